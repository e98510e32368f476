//! Redis's `sdssplitargs`: how an inline command line becomes arguments.
//! The RESP decoder uses it for inline commands; the CLI's `agora cache`
//! prompt splits what the user types the same way, so both agree on
//! quoting.

/// Splits a line into arguments the way Redis's `sdssplitargs` does (so
/// like `redis-cli`'s prompt and the server's inline commands): whitespace
/// separates; `"…"` understands `\n \r \t \b \a \" \\` and `\xHH`;
/// `'…'` only `\'`. A closing quote must be followed by a space or the
/// end. Both the daemon's RESP decoder (inline commands) and the CLI's
/// `agora cache` prompt use it.
pub fn split_args(line: impl AsRef<[u8]>) -> Result<Vec<Vec<u8>>, String> {
    let line = line.as_ref();
    let n = line.len();
    let mut args = Vec::new();
    let mut i = 0;
    loop {
        while i < n && line[i].is_ascii_whitespace() {
            i += 1;
        }
        if i >= n {
            return Ok(args);
        }
        let mut cur = Vec::new();
        let mut in_dq = false;
        let mut in_sq = false;
        loop {
            let Some(&c) = line.get(i) else {
                if in_dq || in_sq {
                    return Err("unbalanced quotes".into());
                }
                break;
            };
            let closing_quote_ok = || line.get(i + 1).is_none_or(|b| b.is_ascii_whitespace());
            if in_dq {
                if c == b'\\'
                    && i + 3 < n
                    && line[i + 1] == b'x'
                    && line[i + 2].is_ascii_hexdigit()
                    && line[i + 3].is_ascii_hexdigit()
                {
                    let hex = |b: u8| (b as char).to_digit(16).unwrap_or(0) as u8;
                    cur.push(hex(line[i + 2]) * 16 + hex(line[i + 3]));
                    i += 3;
                } else if c == b'\\' && i + 1 < n {
                    i += 1;
                    cur.push(match line[i] {
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'b' => 0x08,
                        b'a' => 0x07,
                        other => other,
                    });
                } else if c == b'"' {
                    if !closing_quote_ok() {
                        return Err("closing quote must be followed by a space".into());
                    }
                    i += 1;
                    break;
                } else {
                    cur.push(c);
                }
            } else if in_sq {
                if c == b'\\' && line.get(i + 1) == Some(&b'\'') {
                    i += 1;
                    cur.push(b'\'');
                } else if c == b'\'' {
                    if !closing_quote_ok() {
                        return Err("closing quote must be followed by a space".into());
                    }
                    i += 1;
                    break;
                } else {
                    cur.push(c);
                }
            } else {
                match c {
                    // sdssplitargs ends a bare word at these (NUL included).
                    b' ' | b'\n' | b'\r' | b'\t' | 0 => {
                        i += 1;
                        break;
                    }
                    b'"' => in_dq = true,
                    b'\'' => in_sq = true,
                    c => cur.push(c),
                }
            }
            i += 1;
        }
        args.push(cur);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(s: &str) -> Vec<u8> {
        s.as_bytes().to_vec()
    }

    #[test]
    fn split_args_like_redis_cli() {
        assert_eq!(
            split_args("set  k \"a b\\n\\x41\" 'it\\'s'").unwrap(),
            vec![b("set"), b("k"), b("a b\nA"), b("it's")]
        );
        assert_eq!(split_args("   ").unwrap(), Vec::<Vec<u8>>::new());
        assert_eq!(split_args("get \"\"").unwrap(), vec![b("get"), b("")]);
        assert!(split_args("get \"open").is_err());
        assert!(split_args("get \"a\"b").is_err());
    }
}
