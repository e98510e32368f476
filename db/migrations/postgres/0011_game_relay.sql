-- Games played through any node (docs/FLEET.md, "Games across nodes"):
-- a live game is an actor on the node hosting it (games.node); another
-- node relays its players' requests there and the host's events back.
-- Each row is one message, announced on the `agora_games` channel in the
-- transaction that inserts it ("KIND:ID:NODE"); the payload names the
-- row, the row holds the message (a game's state may not fit in a
-- notification's 8,000 bytes).
--
--   call    a request for the game's host (`node`), from `origin`;
--           taken (deleted) by the host;
--   answer  the host's answer to a call, for `node`; taken by it;
--   event   an event of a game hosted by `origin`, read by every other
--           node and swept after a minute.
--
-- Not a tenant table: games are the main site's.
CREATE TABLE game_relay (
    id            BIGSERIAL PRIMARY KEY,
    kind          TEXT   NOT NULL CHECK (kind IN ('call', 'answer', 'event')),
    node          TEXT   NOT NULL,
    origin        TEXT   NOT NULL,
    body          BYTEA  NOT NULL,
    created_at_ms BIGINT NOT NULL
);
CREATE INDEX game_relay_created ON game_relay (created_at_ms);
