//! `agora blog …`: the blog from the command line, through its HTTP API
//! (the same one any RealWorld client uses), signed in with the token
//! `agora login` saved.
//!
//! Two addresses: `--addr` (or `agora --addr`, AGORA_ADDR) picks whose
//! sign-in to use, since `agora login` saves tokens per protocol address;
//! `--http-addr` (or AGORA_HTTP, the variable `agora daemon` reads for
//! its HTTP listener) is where the API is. Discovering the HTTP address
//! through the protocol would cost a second connection per command and
//! would still need the host the client can reach, so it is given.
//!
//! Exit status (docs/CLI.md): 0 done, 1 nothing to show (no articles, no
//! comments, `show` of an unknown slug), 2 an error.

pub(crate) mod http;
pub(crate) mod print;

use std::io::IsTerminal as _;

use anyhow::Context as _;
use hyper::{Method, StatusCode};
use serde_json::{Value, json};

use self::http::{Answer, Api, query, segment};
use crate::args::blog::{BlogArgs, BlogCommand, DEFAULT_HTTP_ADDR, PostCommand};
use crate::credentials::Store;
use crate::output;

/// The blog API's address: `--http-addr`, else AGORA_HTTP, else the
/// default.
pub(crate) fn http_addr(flag: Option<String>) -> String {
    flag.or_else(|| std::env::var("AGORA_HTTP").ok().filter(|a| !a.is_empty()))
        .unwrap_or_else(|| DEFAULT_HTTP_ADDR.to_owned())
}

/// Runs one blog subcommand against the daemon whose sign-in is `addr`.
pub async fn run(addr: &str, args: BlogArgs, json: bool) -> anyhow::Result<u8> {
    let http_addr = http_addr(args.http.http_addr);
    let api = Api {
        http_addr,
        addr: addr.to_owned(),
        token: Store::load()?.token_for(addr),
        org: args.org,
    };
    let signed_in = || -> anyhow::Result<()> {
        anyhow::ensure!(
            api.token.is_some(),
            "not signed in on {addr}: run `agora login NAME` first"
        );
        Ok(())
    };
    match args.command {
        BlogCommand::Post(PostCommand::New {
            title,
            description,
            tags,
            body_file,
        }) => {
            signed_in()?;
            let body = read_body(body_file.as_deref())?;
            let answer = api
                .call(
                    Method::POST,
                    "/articles",
                    Some(&json!({"article": {
                        "title": title, "description": description, "body": body, "tagList": tags
                    }})),
                )
                .await?;
            let article = expect(&api, answer, StatusCode::CREATED, "article")?;
            if json {
                output::json(&print::article(&article))?;
            } else {
                println!("posted {}", article["slug"].as_str().unwrap_or_default());
            }
        }
        BlogCommand::Posts {
            tag,
            author,
            favorited,
            feed,
            limit,
            offset,
            cursor,
        } => {
            if feed {
                signed_in()?;
            }
            let mut pairs: Vec<(&str, String)> = vec![("limit", limit.to_string())];
            pairs.extend(tag.map(|t| ("tag", t)));
            pairs.extend(author.map(|a| ("author", a)));
            pairs.extend(favorited.map(|f| ("favorited", f)));
            pairs.extend(offset.map(|o| ("offset", o.to_string())));
            pairs.extend(cursor.map(|c| ("cursor", c)));
            let path = if feed { "/articles/feed" } else { "/articles" };
            let answer = api
                .call(Method::GET, &format!("{path}{}", query(&pairs)), None)
                .await?;
            let page = expect(&api, answer, StatusCode::OK, "")?;
            let articles = page["articles"].as_array().cloned().unwrap_or_default();
            let next = page["nextCursor"].as_str().map(str::to_owned);
            if json {
                let list: Vec<Value> = articles.iter().map(print::article).collect();
                output::json(&json!({
                    "articles": list,
                    "count": page["articlesCount"],
                    "next_cursor": next,
                }))?;
            } else {
                print!("{}", print::articles_text(&articles));
                if let Some(next) = &next
                    && std::io::stderr().is_terminal()
                {
                    eprintln!(
                        "{} of {}; more with --cursor {next}",
                        articles.len(),
                        page["articlesCount"]
                    );
                }
            }
            return Ok(nothing_if(articles.is_empty()));
        }
        BlogCommand::Show { slug } => {
            let answer = api
                .call(Method::GET, &format!("/articles/{}", segment(&slug)), None)
                .await?;
            if answer.status == StatusCode::NOT_FOUND && !unknown_org(&answer) {
                if json {
                    output::json(&Value::Null)?;
                }
                return Ok(1);
            }
            let article = expect(&api, answer, StatusCode::OK, "article")?;
            if json {
                output::json(&print::article(&article))?;
            } else {
                print!("{}", print::article_text(&article));
            }
        }
        BlogCommand::Edit {
            slug,
            title,
            description,
            body_file,
            tags,
        } => {
            signed_in()?;
            let mut changes = serde_json::Map::new();
            if let Some(t) = title {
                changes.insert("title".into(), t.into());
            }
            if let Some(d) = description {
                changes.insert("description".into(), d.into());
            }
            if let Some(file) = body_file {
                changes.insert("body".into(), read_body(Some(&file))?.into());
            }
            if !tags.is_empty() {
                changes.insert("tagList".into(), tags.into());
            }
            anyhow::ensure!(
                !changes.is_empty(),
                "nothing to change: give --title, --description, --body-file or --tag"
            );
            let answer = api
                .call(
                    Method::PUT,
                    &format!("/articles/{}", segment(&slug)),
                    Some(&json!({ "article": changes })),
                )
                .await?;
            let article = found(&api, answer, &slug, "article")?;
            if json {
                output::json(&print::article(&article))?;
            } else {
                let now = article["slug"].as_str().unwrap_or_default();
                if now == slug {
                    println!("updated {now}");
                } else {
                    println!("updated {now} (was {slug})");
                }
            }
        }
        BlogCommand::Rm { slug } => {
            signed_in()?;
            let answer = api
                .call(
                    Method::DELETE,
                    &format!("/articles/{}", segment(&slug)),
                    None,
                )
                .await?;
            if answer.status != StatusCode::NO_CONTENT {
                return Err(failure(&api, &answer, &slug));
            }
            if json {
                output::json(&json!({ "slug": slug, "deleted": true }))?;
            } else {
                println!("deleted {slug}");
            }
        }
        BlogCommand::Comment {
            slug,
            text,
            reply_to,
        } => {
            signed_in()?;
            let text = if text == "-" {
                let bytes = crate::stdin::read_piped(
                    "TEXT is - and standard input is a terminal; pipe the comment in",
                )?;
                String::from_utf8(bytes).context("the comment on standard input is not UTF-8")?
            } else {
                text
            };
            let answer = api
                .call(
                    Method::POST,
                    &format!("/articles/{}/comments", segment(&slug)),
                    Some(&json!({"comment": {"body": text, "parentId": reply_to}})),
                )
                .await?;
            let comment = found(&api, answer, &slug, "comment")?;
            if json {
                output::json(&print::comment(&comment, &slug))?;
            } else {
                println!("commented #{} on {slug}", comment["id"]);
            }
        }
        BlogCommand::Comments { slug, tree } => {
            let nested = if tree { "?nested=true" } else { "" };
            let answer = api
                .call(
                    Method::GET,
                    &format!("/articles/{}/comments{nested}", segment(&slug)),
                    None,
                )
                .await?;
            let body = found(&api, answer, &slug, "")?;
            let list = body["comments"].as_array().cloned().unwrap_or_default();
            if json {
                let shaped: Vec<Value> = if tree {
                    print::tree(&list, &slug)
                } else {
                    list.iter().map(|c| print::comment(c, &slug)).collect()
                };
                output::json(&json!({ "article": slug, "comments": shaped }))?;
            } else {
                print!("{}", print::comments_text(&list, tree));
            }
            return Ok(nothing_if(list.is_empty()));
        }
    }
    Ok(0)
}

/// The article body: from `file` (`-`: standard input), or standard input
/// when no file is given and it is not a terminal.
fn read_body(file: Option<&std::path::Path>) -> anyhow::Result<String> {
    let bytes = match file {
        Some(path) if path != std::path::Path::new("-") => {
            std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?
        }
        _ => crate::stdin::read_piped(
            "no --body-file given and standard input is a terminal; pass --body-file FILE or pipe the body in",
        )?,
    };
    String::from_utf8(bytes).context("the body is not UTF-8")
}

/// The `key` object of a successful answer (the whole body for `""`).
fn expect(api: &Api, answer: Answer, status: StatusCode, key: &str) -> anyhow::Result<Value> {
    if answer.status != status {
        return Err(api.explain(&answer));
    }
    Ok(if key.is_empty() {
        answer.json
    } else {
        answer.json[key].clone()
    })
}

/// Like [`expect`] with 200, naming the article when it does not exist.
fn found(api: &Api, answer: Answer, slug: &str, key: &str) -> anyhow::Result<Value> {
    if answer.status.is_success() {
        return Ok(if key.is_empty() {
            answer.json
        } else {
            answer.json[key].clone()
        });
    }
    Err(failure(api, &answer, slug))
}

/// Whether a 404 is for the organization (`--org`), not the thing asked.
fn unknown_org(answer: &Answer) -> bool {
    answer.json["errors"].get("organization").is_some()
}

fn failure(api: &Api, answer: &Answer, slug: &str) -> anyhow::Error {
    match answer.status {
        _ if unknown_org(answer) => api.explain(answer),
        StatusCode::NOT_FOUND if answer.json["errors"].get("comment").is_some() => {
            anyhow::anyhow!("no such comment on {slug}")
        }
        StatusCode::NOT_FOUND => {
            anyhow::anyhow!("no article {slug:?} (see `agora blog posts`)")
        }
        StatusCode::FORBIDDEN => {
            anyhow::anyhow!("{slug} is not yours: only its author may change it")
        }
        _ => api.explain(answer),
    }
}

fn nothing_if(empty: bool) -> u8 {
    u8::from(empty)
}
