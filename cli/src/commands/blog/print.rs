//! The JSON shape of each thing `agora blog` prints (one shape per thing,
//! snake_case, as the other commands) and its text form.
//!
//! - an article: `{slug, title, description, body, tags, author,
//!   created_ms, updated_ms, favorited, favorites_count}`, `body` null in
//!   lists (the API leaves it out there), `author` a user name (as `from`
//!   in a chat message: the API has no user ids);
//! - a comment: `{id, article, parent_id, author, body, created_ms,
//!   updated_ms, deleted}`, `author` null for a deleted comment that still
//!   has replies;
//! - in a tree, each node is `{comment, replies}`.
//!
//! Times are milliseconds since the epoch, like every `_ms` of the CLI
//! (docs/CLI.md), from the API's RFC 3339 strings; the text form shows
//! them as the API gives them (UTC).

use serde_json::{Value, json};

/// An API article as the CLI prints it in JSON.
pub fn article(a: &Value) -> Value {
    json!({
        "slug": a["slug"],
        "title": a["title"],
        "description": a["description"],
        "body": a.get("body").cloned().unwrap_or(Value::Null),
        "tags": a["tagList"],
        "author": a["author"]["username"],
        "created_ms": ms(&a["createdAt"]),
        "updated_ms": ms(&a["updatedAt"]),
        "favorited": a["favorited"],
        "favorites_count": a["favoritesCount"],
    })
}

/// An API comment of the article `slug` as the CLI prints it in JSON.
pub fn comment(c: &Value, slug: &str) -> Value {
    json!({
        "id": c["id"],
        "article": slug,
        "parent_id": c["parentId"],
        "author": c["author"].get("username").cloned().unwrap_or(Value::Null),
        "body": c["body"],
        "created_ms": ms(&c["createdAt"]),
        "updated_ms": ms(&c["updatedAt"]),
        "deleted": c["deleted"],
    })
}

/// An API time (`2026-11-30T09:12:00.123Z`, RFC 3339 in UTC as the API
/// writes it) as milliseconds since the epoch; null when it is not one.
pub fn ms(v: &Value) -> Value {
    v.as_str()
        .and_then(parse_ms)
        .map_or(Value::Null, Value::from)
}

/// `YYYY-MM-DDTHH:MM:SS[.fff]Z` (or `+00:00`) as milliseconds since the
/// epoch.
fn parse_ms(ts: &str) -> Option<i64> {
    let num = |s: &str| -> Option<i64> {
        (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse().ok())
            .flatten()
    };
    let (date, time) = ts.split_once(['T', 't', ' '])?;
    let mut d = date.splitn(3, '-');
    let (y, m, day) = (num(d.next()?)?, num(d.next()?)?, num(d.next()?)?);
    let time = time
        .strip_suffix(['Z', 'z'])
        .or_else(|| time.strip_suffix("+00:00"))?;
    let (hms, frac) = time.split_once('.').unwrap_or((time, "0"));
    let mut t = hms.splitn(3, ':');
    let (h, min, s) = (num(t.next()?)?, num(t.next()?)?, num(t.next()?)?);
    if !(1..=12).contains(&m) || !(1..=31).contains(&day) || h > 23 || min > 59 || s > 60 {
        return None;
    }
    let millis = num(&format!("{frac:0<3}")[..3])?;
    // Howard Hinnant's days-from-civil.
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(((days * 86_400 + h * 3600 + min * 60 + s) * 1000) + millis)
}

/// A tree of API comments (with `replies`) as `{comment, replies}` nodes,
/// built without recursion.
pub fn tree(roots: &[Value], slug: &str) -> Vec<Value> {
    // Post-order over an explicit stack: children are finished before
    // their parent is assembled.
    enum Step<'a> {
        Enter(&'a Value),
        Leave(&'a Value),
    }
    let mut done: Vec<Value> = Vec::new();
    let mut stack: Vec<Step<'_>> = roots.iter().rev().map(Step::Enter).collect();
    let mut counts: Vec<usize> = Vec::new();
    while let Some(step) = stack.pop() {
        match step {
            Step::Enter(node) => {
                stack.push(Step::Leave(node));
                let replies = node["replies"].as_array().map(Vec::as_slice).unwrap_or(&[]);
                counts.push(replies.len());
                stack.extend(replies.iter().rev().map(Step::Enter));
            }
            Step::Leave(node) => {
                let n = counts.pop().unwrap_or(0);
                let replies = done.split_off(done.len().saturating_sub(n));
                done.push(json!({ "comment": comment(node, slug), "replies": replies }));
            }
        }
    }
    done
}

fn text<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key].as_str().unwrap_or("")
}

/// `2026-11-30 09:12` from an RFC 3339 time.
fn minute(ts: &str) -> String {
    ts.get(..16).unwrap_or(ts).replace('T', " ")
}

/// Articles as aligned columns: date, author, favourites, slug, title.
pub fn articles_text(list: &[Value]) -> String {
    let author_w = list
        .iter()
        .map(|a| text(&a["author"], "username").chars().count())
        .max()
        .unwrap_or(0);
    let slug_w = list
        .iter()
        .map(|a| text(a, "slug").chars().count())
        .max()
        .unwrap_or(0);
    let mut out = String::new();
    for a in list {
        let date = text(a, "createdAt").get(..10).unwrap_or("").to_owned();
        let author = text(&a["author"], "username");
        let slug = text(a, "slug");
        let favs = a["favoritesCount"].as_i64().unwrap_or(0);
        out.push_str(&format!(
            "{date}  {author}{}  ♥{favs:<3} {slug}{}  {}\n",
            " ".repeat(author_w - author.chars().count()),
            " ".repeat(slug_w - slug.chars().count()),
            text(a, "title")
        ));
    }
    out
}

/// One article in full.
pub fn article_text(a: &Value) -> String {
    let tags: Vec<&str> = a["tagList"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    let favs = a["favoritesCount"].as_i64().unwrap_or(0);
    let mut out = format!(
        "{}\nby {} · {} · {} · slug {}\n",
        text(a, "title"),
        text(&a["author"], "username"),
        minute(text(a, "createdAt")),
        crate::output::count(favs.max(0) as usize, "favourite", "favourites"),
        text(a, "slug"),
    );
    if !tags.is_empty() {
        out.push_str(&format!("tags: {}\n", tags.join(", ")));
    }
    out.push_str(&format!(
        "\n{}\n\n{}\n",
        text(a, "description"),
        text(a, "body").trim_end()
    ));
    out
}

/// Comments, flat or as a tree (indented two spaces per level).
pub fn comments_text(roots: &[Value], tree: bool) -> String {
    let mut out = String::new();
    let mut stack: Vec<(&Value, usize)> = roots.iter().rev().map(|c| (c, 0)).collect();
    while let Some((c, depth)) = stack.pop() {
        let pad = "  ".repeat(depth);
        let author = c["author"]
            .get("username")
            .and_then(Value::as_str)
            .unwrap_or("[deleted]");
        let reply = match (tree, c["parentId"].as_i64()) {
            (false, Some(p)) => format!(" (reply to #{p})"),
            _ => String::new(),
        };
        out.push_str(&format!(
            "{pad}#{} {author} {}{reply}\n",
            c["id"],
            minute(text(c, "createdAt"))
        ));
        for line in text(c, "body").lines() {
            out.push_str(&format!("{pad}  {line}\n"));
        }
        if tree {
            let replies = c["replies"].as_array().map(Vec::as_slice).unwrap_or(&[]);
            stack.extend(replies.iter().rev().map(|r| (r, depth + 1)));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api_comment(id: i64, replies: Vec<Value>) -> Value {
        json!({"id": id, "parentId": null, "author": {"username": "a"}, "body": format!("c{id}"),
               "createdAt": "2026-11-30T09:12:00.000Z", "updatedAt": "2026-11-30T09:12:00.000Z",
               "deleted": false, "replies": replies})
    }

    #[test]
    fn api_times_become_milliseconds() {
        assert_eq!(parse_ms("1970-01-01T00:00:00.000Z"), Some(0));
        assert_eq!(
            parse_ms("2026-11-30T09:12:00.123Z"),
            Some(1_796_029_920_123)
        );
        assert_eq!(parse_ms("2000-02-29T23:59:59Z"), Some(951_868_799_000));
        assert_eq!(
            parse_ms("2000-02-29T23:59:59.5+00:00"),
            Some(951_868_799_500)
        );
        for bad in [
            "",
            "yesterday",
            "2026-13-01T00:00:00Z",
            "2026-11-30T09:12:00",
        ] {
            assert_eq!(parse_ms(bad), None, "{bad}");
        }
    }

    #[test]
    fn trees_keep_their_shape_and_order() {
        let roots = vec![
            api_comment(
                1,
                vec![
                    api_comment(2, vec![api_comment(3, vec![])]),
                    api_comment(4, vec![]),
                ],
            ),
            api_comment(5, vec![]),
        ];
        let t = tree(&roots, "s");
        assert_eq!(t.len(), 2);
        assert_eq!(t[0]["comment"]["id"], 1);
        assert_eq!(t[0]["replies"][0]["comment"]["id"], 2);
        assert_eq!(t[0]["replies"][0]["replies"][0]["comment"]["id"], 3);
        assert_eq!(t[0]["replies"][1]["comment"]["id"], 4);
        assert_eq!(t[1]["replies"], json!([]));
        let text = comments_text(&roots, true);
        assert_eq!(
            text.lines().filter(|l| l.contains('#')).collect::<Vec<_>>(),
            [
                "#1 a 2026-11-30 09:12",
                "  #2 a 2026-11-30 09:12",
                "    #3 a 2026-11-30 09:12",
                "  #4 a 2026-11-30 09:12",
                "#5 a 2026-11-30 09:12"
            ]
        );
    }
}
