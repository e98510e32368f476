-- The scripting sandbox, run once when the interpreter starts (see
-- lua.rs). It receives:
--   slot     a table the engine fills per run: slot.f dispatches
--            redis.call/pcall (returns value, raise), slot.reg registers
--            a function while FUNCTION LOAD runs, slot.resp is 2 or 3
--   sha1hex  the Rust SHA-1 (hex)
--   log      the Rust logger (level, message)
--   getinfo  debug.getinfo (the debug library is not left to scripts)
-- and returns the script environment (a read-only view of the globals,
-- as Redis 7 makes them) and the runner (xpcall with Redis's error
-- handler).
local slot, sha1hex, log, getinfo = ...
local G = _G
local error, type, tostring, rawget, select = error, type, tostring, rawget, select
local setmetatable, getmetatable, loadstring, setfenv = setmetatable, getmetatable, loadstring, setfenv

local readonly = setmetatable({}, { __mode = 'k' })
local function ro_error()
  error('Attempt to modify a readonly table', 2)
end
-- What getmetatable answers for a protected table: itself read-only.
local frozen = setmetatable({}, { __newindex = ro_error, __metatable = false })
readonly[frozen] = true

local function protect(t)
  local proxy = setmetatable({}, { __index = t, __newindex = ro_error, __metatable = frozen })
  readonly[proxy] = true
  return proxy
end

-- A C function gets at most 8000 stack slots (LUAI_MAXCSTACK), which a
-- call of `unpack` of ~8000 arguments would exceed on the Rust side:
-- those go over in a table.
local function dispatch(raise, ...)
  local n = select('#', ...)
  if n < 4000 then return slot.f(raise, ...) end
  return slot.ft(raise, { ... }, n)
end
local redis = {}
redis.call = function(...)
  local r, raise = dispatch(true, ...)
  if raise then error(r, 0) end
  return r
end
redis.pcall = function(...)
  local r, raise = dispatch(false, ...)
  if raise then error(r, 0) end
  return r
end
redis.error_reply = function(msg)
  if type(msg) ~= 'string' then error('wrong number or type of arguments', 2) end
  if msg == '' then msg = 'ERR' end
  return { err = msg }
end
redis.status_reply = function(msg)
  if type(msg) ~= 'string' then error('wrong number or type of arguments', 2) end
  return { ok = msg }
end
redis.sha1hex = function(...)
  if select('#', ...) ~= 1 then error('wrong number of arguments', 2) end
  return sha1hex(tostring((...)))
end
redis.LOG_DEBUG, redis.LOG_VERBOSE, redis.LOG_NOTICE, redis.LOG_WARNING = 0, 1, 2, 3
redis.log = function(level, ...)
  if select('#', ...) < 1 then error('redis.log() requires two arguments or more.', 2) end
  if type(level) ~= 'number' then error('First argument must be a number (log level).', 2) end
  local parts = {}
  for i = 1, select('#', ...) do parts[i] = tostring((select(i, ...))) end
  log(level, table.concat(parts, ' '))
end
redis.setresp = function(v)
  if v ~= 2 and v ~= 3 then error('RESP version must be 2 or 3.', 2) end
  slot.resp = v
end
redis.REPL_NONE, redis.REPL_AOF, redis.REPL_SLAVE, redis.REPL_REPLICA, redis.REPL_ALL = 0, 1, 2, 2, 3
redis.set_repl = function() end
redis.replicate_commands = function() return true end
redis.breakpoint = function() return false end
redis.debug = function() end
redis.acl_check_cmd = function(name, ...)
  local r = slot.acl(name)
  if not r then error({ err = 'ERR Invalid command passed to redis.acl_check_cmd()' }, 0) end
  return r
end
redis.register_function = function(...)
  if not slot.reg then error('redis.register_function can only be called on FUNCTION LOAD command', 2) end
  return slot.reg(...)
end
redis.REDIS_VERSION = '7.0.15'
redis.REDIS_VERSION_NUM = 0x07000f
G.redis = protect(redis)

-- What scripts may not reach (Redis 7 removes them too, or never loads
-- their library).
G.loadfile, G.dofile, G.print, G.getfenv, G.setfenv, G.module, G.require, G.newproxy =
  nil, nil, nil, nil, nil, nil, nil, nil

local env = {}
readonly[env] = true
-- Binary chunks are refused: Lua 5.1 does not verify bytecode.
G.loadstring = function(s, name)
  if type(s) ~= 'string' or s:byte(1) == 27 then return nil, 'binary code is not allowed' end
  local f, e = loadstring(s, name)
  if f then setfenv(f, env) end
  return f, e
end
G.setmetatable = function(t, mt)
  if readonly[t] then error('Attempt to modify a readonly table', 2) end
  return setmetatable(t, mt)
end
setmetatable(env, {
  __index = function(_, k)
    if k == '_G' then return env end
    local v = rawget(G, k)
    if v == nil then
      error("Script attempted to access nonexistent global variable '" .. tostring(k) .. "'", 2)
    end
    return v
  end,
  __newindex = ro_error,
  __metatable = frozen,
})

-- Redis's error handler: every error becomes a table {err=…} with the
-- script's source and line (none after a tail call, `return
-- redis.call(…)`: Lua 5.1 drops the caller's frame).
local function handler(err)
  local source, line
  for level = 2, 30 do
    local i = getinfo(level, 'Sl')
    if not i then break end
    if i.source == '@user_script' or i.source == '@user_function' then
      source, line = i.source, i.currentline
      break
    end
  end
  if type(err) == 'userdata' then
    -- An error of a library function written in Rust (mlua's): its
    -- message where Lua's luaL_error puts it, after the caller's place.
    local msg = tostring(err)
    msg = (msg:gsub('^runtime error: ', ''))
    msg = (msg:gsub('%s*stack traceback:.*$', ''))
    if source then msg = source:sub(2) .. ':' .. tostring(line) .. ': ' .. msg end
    err = msg
  end
  if type(err) ~= 'table' then
    err = { err = 'ERR ' .. tostring(err) }
  end
  if rawget(err, 'source') == nil and source then
    err.source, err.line = source, line
  end
  return err
end

local function run(f, keys, argv)
  return xpcall(function() return f(keys, argv) end, handler)
end

return env, run, protect
