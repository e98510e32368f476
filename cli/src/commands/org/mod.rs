//! `agora org …`: organizations, their members and invitations, through
//! the blog API's `/api/orgs` routes (docs/BLOG.md, "Organizations"),
//! signed in with the token `agora login` saved; the same client as
//! `agora blog` ([`crate::commands::blog::http`]).
//!
//! JSON shapes (snake_case, times in ms since the epoch, as every
//! command): an organization `{slug, name, plan, created_ms, role}`
//! (`role` yours, null when you are not a member), a member `{username,
//! role, joined_ms}`, an invitation `{token, org, username, role,
//! expires_ms}`; schemas in `tests/schemas/org-*.json`.
//!
//! Exit status (docs/CLI.md): 0 done, 1 nothing to show (`list` with no
//! organization), 2 an error (not signed in, an unknown organization,
//! member or invitation, a refusal by the policy, a change that would
//! leave no owner, the API unreachable).

use std::io::{BufRead as _, IsTerminal as _, Write as _};

use hyper::{Method, StatusCode};
use serde_json::{Value, json};

use crate::args::org::{OrgArgs, OrgCommand};
use crate::commands::blog::http::{Answer, Api, query, said, segment};
use crate::commands::blog::{http_addr, print::ms};
use crate::credentials::Store;
use crate::output;

/// Runs one `agora org` subcommand against the daemon whose sign-in is
/// `addr`.
pub async fn run(addr: &str, args: OrgArgs, json: bool) -> anyhow::Result<u8> {
    let api = Api {
        http_addr: http_addr(args.http.http_addr),
        addr: addr.to_owned(),
        token: Store::load()?.token_for(addr),
        org: None,
    };
    anyhow::ensure!(
        api.token.is_some(),
        "not signed in on {addr}: run `agora login NAME` first"
    );
    match args.command {
        OrgCommand::Create { slug, name } => {
            let body = json!({"org": {"slug": slug, "name": name.unwrap_or_else(|| slug.clone())}});
            let answer = api.call(Method::POST, "/orgs", Some(&body)).await?;
            let org = expect(&api, answer, StatusCode::CREATED, "")?;
            if json {
                output::json(&org_json(&org["org"]))?;
            } else {
                println!("created {slug} (you are its owner)");
            }
        }
        OrgCommand::List => {
            let answer = api.call(Method::GET, "/orgs", None).await?;
            let body = expect(&api, answer, StatusCode::OK, "")?;
            let orgs = body["orgs"].as_array().cloned().unwrap_or_default();
            if json {
                let list: Vec<Value> = orgs.iter().map(org_json).collect();
                output::json(&json!({ "orgs": list }))?;
            } else {
                print!("{}", orgs_text(&orgs));
            }
            return Ok(u8::from(orgs.is_empty()));
        }
        OrgCommand::Members { org } => {
            let path = format!("/orgs/{}/members", segment(&org));
            let answer = api.call(Method::GET, &path, None).await?;
            let body = expect(&api, answer, StatusCode::OK, &org)?;
            print_members(&org, &body, json)?;
        }
        OrgCommand::Invite { org, user, role } => {
            let path = format!("/orgs/{}/invitations", segment(&org));
            let body = json!({"invitation": {"username": user, "role": role}});
            let answer = api.call(Method::POST, &path, Some(&body)).await?;
            let body = expect(&api, answer, StatusCode::CREATED, &org)?;
            let inv = &body["invitation"];
            if json {
                output::json(&json!({
                    "token": inv["token"],
                    "org": inv["org"],
                    "username": inv["username"],
                    "role": inv["role"],
                    "expires_ms": ms(&inv["expiresAt"]),
                }))?;
            } else {
                // The token alone on stdout, for scripts; the rest for people.
                println!("{}", inv["token"].as_str().unwrap_or_default());
                if std::io::stderr().is_terminal() {
                    eprintln!(
                        "invited {} to {org} as {}; they run `agora org accept TOKEN` (expires {})",
                        inv["username"].as_str().unwrap_or_default(),
                        inv["role"].as_str().unwrap_or_default(),
                        inv["expiresAt"].as_str().unwrap_or_default(),
                    );
                }
            }
        }
        OrgCommand::Accept { token } => answer_invitation(&api, &token, true, json).await?,
        OrgCommand::Decline { token } => answer_invitation(&api, &token, false, json).await?,
        OrgCommand::Role { org, user, role } => {
            let path = format!("/orgs/{}/members/{}", segment(&org), segment(&user));
            let body = json!({"member": {"role": role}});
            let answer = api.call(Method::PUT, &path, Some(&body)).await?;
            let body = expect(&api, answer, StatusCode::OK, &org)?;
            if json {
                print_members(&org, &body, true)?;
            } else {
                println!("{user} is now {role} in {org}");
            }
        }
        OrgCommand::Remove { org, user } => {
            let path = format!("/orgs/{}/members/{}", segment(&org), segment(&user));
            let answer = api.call(Method::DELETE, &path, None).await?;
            expect(&api, answer, StatusCode::NO_CONTENT, &org)?;
            if json {
                output::json(&json!({"org": org, "username": user, "removed": true}))?;
            } else {
                println!("removed {user} from {org}");
            }
        }
        OrgCommand::Transfer { org, user } => {
            let path = format!("/orgs/{}/transfer", segment(&org));
            let body = json!({"member": {"username": user}});
            let answer = api.call(Method::POST, &path, Some(&body)).await?;
            let body = expect(&api, answer, StatusCode::OK, &org)?;
            if json {
                print_members(&org, &body, true)?;
            } else {
                println!("{user} owns {org} now; you are an admin");
            }
        }
        OrgCommand::Billing(command) => return super::org_billing::run(&api, command, json).await,
        OrgCommand::Delete { org, yes } => {
            if !yes {
                confirm_delete(&org)?;
            }
            let path = format!(
                "/orgs/{}{}",
                segment(&org),
                query(&[("confirm", org.clone())])
            );
            let answer = api.call(Method::DELETE, &path, None).await?;
            expect(&api, answer, StatusCode::NO_CONTENT, &org)?;
            if json {
                output::json(&json!({"org": org, "deleted": true}))?;
            } else {
                println!("deleted {org}");
            }
        }
    }
    Ok(0)
}

async fn answer_invitation(api: &Api, token: &str, accept: bool, json: bool) -> anyhow::Result<()> {
    let verb = if accept { "accept" } else { "decline" };
    let path = format!("/invitations/{}/{verb}", segment(token));
    let answer = api.call(Method::POST, &path, None).await?;
    let body = expect(api, answer, StatusCode::OK, "")?;
    let org = &body["org"];
    if json {
        output::json(&org_json(org))?;
    } else if accept {
        println!(
            "joined {} as {}",
            org["slug"].as_str().unwrap_or_default(),
            org["role"].as_str().unwrap_or_default()
        );
    } else {
        println!(
            "declined the invitation to {}",
            org["slug"].as_str().unwrap_or_default()
        );
    }
    Ok(())
}

/// The slug typed back on a terminal, or a refusal elsewhere (`--yes`).
fn confirm_delete(org: &str) -> anyhow::Result<()> {
    anyhow::ensure!(
        std::io::stdin().is_terminal() && std::io::stderr().is_terminal(),
        "not deleting {org} without confirmation: pass --yes (standard input is not a terminal to ask on)"
    );
    eprint!("This deletes {org} and, after the grace period, its blog. Type its slug to confirm: ");
    std::io::stderr().flush()?;
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    anyhow::ensure!(
        line.trim() == org,
        "not deleted: {:?} is not {org:?}",
        line.trim()
    );
    Ok(())
}

/// An API organization as the CLI prints it in JSON.
fn org_json(o: &Value) -> Value {
    json!({
        "slug": o["slug"],
        "name": o["name"],
        "plan": o["plan"],
        "created_ms": ms(&o["createdAt"]),
        "role": o.get("role").cloned().unwrap_or(Value::Null),
    })
}

fn orgs_text(orgs: &[Value]) -> String {
    let mut out = String::new();
    let width = orgs
        .iter()
        .map(|o| o["slug"].as_str().unwrap_or_default().len())
        .max()
        .unwrap_or(0);
    for o in orgs {
        out.push_str(&format!(
            "{:width$}  {:6}  {}\n",
            o["slug"].as_str().unwrap_or_default(),
            o["role"].as_str().unwrap_or("-"),
            o["name"].as_str().unwrap_or_default(),
        ));
    }
    out
}

fn print_members(org: &str, body: &Value, json: bool) -> anyhow::Result<()> {
    let members = body["members"].as_array().cloned().unwrap_or_default();
    if json {
        let list: Vec<Value> = members
            .iter()
            .map(|m| json!({"username": m["username"], "role": m["role"], "joined_ms": ms(&m["joinedAt"])}))
            .collect();
        output::json(&json!({"org": org, "members": list}))?;
    } else {
        let width = members
            .iter()
            .map(|m| m["username"].as_str().unwrap_or_default().len())
            .max()
            .unwrap_or(0);
        for m in &members {
            println!(
                "{:width$}  {}",
                m["username"].as_str().unwrap_or_default(),
                m["role"].as_str().unwrap_or_default()
            );
        }
    }
    Ok(())
}

/// The body of an answer with `status`, else one clear sentence about
/// what went wrong in organization `org` (empty for invitations).
fn expect(api: &Api, answer: Answer, status: StatusCode, org: &str) -> anyhow::Result<Value> {
    if answer.status == status {
        return Ok(answer.json);
    }
    let errors = &answer.json["errors"];
    let said = said(&answer.json);
    Err(match answer.status {
        StatusCode::NOT_FOUND if errors.get("organization").is_some() => {
            anyhow::anyhow!("no organization {org:?} (see `agora org list`)")
        }
        StatusCode::NOT_FOUND if errors.get("member").is_some() => {
            anyhow::anyhow!("no such member of {org}")
        }
        StatusCode::NOT_FOUND if errors.get("invitation").is_some() => {
            anyhow::anyhow!("no such invitation: unknown, or not addressed to you")
        }
        StatusCode::FORBIDDEN => anyhow::anyhow!("refused in {org}: {said}"),
        StatusCode::UNPROCESSABLE_ENTITY if org.is_empty() => anyhow::anyhow!("refused: {said}"),
        StatusCode::UNPROCESSABLE_ENTITY | StatusCode::CONFLICT => {
            anyhow::anyhow!("refused in {org}: {said}")
        }
        _ => api.explain(&answer),
    })
}
