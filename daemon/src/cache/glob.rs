//! Glob matching for KEYS, SCAN MATCH and PSUBSCRIBE: a port of Redis's
//! `stringmatchlen` (`*`, `?`, `[abc]`, `[^a-z]`, `\` escapes), including
//! its guard against exponential backtracking on patterns like `*a*a*a*b`.

/// Whether `string` matches the glob `pattern` (case-sensitive).
pub fn matches(pattern: &[u8], string: &[u8]) -> bool {
    let mut skip_longer = false;
    match_impl(pattern, string, &mut skip_longer, 0)
}

fn match_impl(mut p: &[u8], mut s: &[u8], skip_longer: &mut bool, nesting: usize) -> bool {
    // Redis caps recursion the same way: a pathological pattern fails to
    // match rather than exhausting the stack.
    if nesting > 1000 {
        return false;
    }
    while !p.is_empty() && !s.is_empty() {
        match p[0] {
            b'*' => {
                while p.len() > 1 && p[1] == b'*' {
                    p = &p[1..];
                }
                if p.len() == 1 {
                    return true;
                }
                while !s.is_empty() {
                    if match_impl(&p[1..], s, skip_longer, nesting + 1) {
                        return true;
                    }
                    if *skip_longer {
                        return false;
                    }
                    s = &s[1..];
                }
                // The rest of the pattern did not match even the shortest
                // suffix: longer prefixes for earlier stars cannot help.
                *skip_longer = true;
                return false;
            }
            b'?' => s = &s[1..],
            b'[' => {
                p = &p[1..];
                let negate = p.first() == Some(&b'^');
                if negate {
                    p = &p[1..];
                }
                let c = s[0];
                let mut hit = false;
                loop {
                    if p.is_empty() {
                        // Unterminated class: step back so the outer
                        // advance lands on the end, as Redis does.
                        break;
                    }
                    if p[0] == b'\\' && p.len() >= 2 {
                        p = &p[1..];
                        if p[0] == c {
                            hit = true;
                        }
                    } else if p[0] == b']' {
                        break;
                    } else if p.len() >= 3 && p[1] == b'-' {
                        let (mut lo, mut hi) = (p[0], p[2]);
                        if lo > hi {
                            std::mem::swap(&mut lo, &mut hi);
                        }
                        p = &p[2..];
                        if (lo..=hi).contains(&c) {
                            hit = true;
                        }
                    } else if p[0] == c {
                        hit = true;
                    }
                    p = &p[1..];
                }
                if negate {
                    hit = !hit;
                }
                if !hit {
                    return false;
                }
                s = &s[1..];
                if p.is_empty() {
                    // Unterminated class consumed the pattern.
                    return s.is_empty();
                }
            }
            b'\\' if p.len() >= 2 => {
                p = &p[1..];
                if p[0] != s[0] {
                    return false;
                }
                s = &s[1..];
            }
            other => {
                if other != s[0] {
                    return false;
                }
                s = &s[1..];
            }
        }
        p = &p[1..];
        if s.is_empty() {
            while p.first() == Some(&b'*') {
                p = &p[1..];
            }
            break;
        }
    }
    p.is_empty() && s.is_empty()
}

#[cfg(test)]
mod tests {
    use super::matches;

    fn m(p: &str, s: &str) -> bool {
        matches(p.as_bytes(), s.as_bytes())
    }

    #[test]
    fn redis_glob_semantics() {
        // As Redis: "*" needs at least one byte (KEYS * short-cuts this).
        assert!(!m("*", ""));
        assert!(m("*", "anything"));
        assert!(m("h?llo", "hello"));
        assert!(!m("h?llo", "hllo"));
        assert!(m("h*llo", "heeeello"));
        assert!(m("h[ae]llo", "hallo"));
        assert!(!m("h[ae]llo", "hillo"));
        assert!(m("h[^e]llo", "hallo"));
        assert!(!m("h[^e]llo", "hello"));
        assert!(m("h[a-b]llo", "hbllo"));
        assert!(m("h[b-a]llo", "hallo"));
        assert!(m("h\\*llo", "h*llo"));
        assert!(!m("h\\*llo", "hello"));
        assert!(m("key:*", "key:1"));
        assert!(!m("key:*", "kez:1"));
        assert!(m("a*b*c", "axxbyyc"));
        assert!(!m("", "a"));
        assert!(m("", ""));
        assert!(m("a**", "a"));
        assert!(m("[\\]]", "]"));
    }

    #[test]
    fn pathological_pattern_is_fast() {
        let s = "a".repeat(60);
        let p = format!("{}b", "*a".repeat(30));
        let start = std::time::Instant::now();
        assert!(!m(&p, &s));
        assert!(start.elapsed().as_secs() < 1);
    }

    #[test]
    fn never_panics_on_odd_patterns() {
        for p in ["[", "[^", "\\", "[a-", "*[", "?[]", "[\\", "a[b"] {
            for s in ["", "a", "ab", "[", "\\"] {
                let _ = m(p, s);
            }
        }
    }
}
