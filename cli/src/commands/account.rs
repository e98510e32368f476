//! `agora register`, `login`, `logout`, `whoami`.

use std::io::{BufRead as _, IsTerminal as _};

use agora_wire::names::{validate_password, validate_user_name};
use agora_wire::{BaseOp, BaseReply, Op, Reply};
use anyhow::Context as _;
use serde_json::json;

use crate::args::CredentialArgs;
use crate::credentials::{Credential, Store};
use crate::output;
use crate::session;

/// Creates an account, signs in and saves the token.
pub async fn register(addr: &str, args: &CredentialArgs, json: bool) -> anyhow::Result<u8> {
    let name = validate_user_name(&args.name).map_err(anyhow::Error::msg)?;
    let password = read_password(args, &name, addr, Confirm::Yes)?;
    validate_password(&password).map_err(anyhow::Error::msg)?;
    sign_in(
        addr,
        Op::Base(BaseOp::Register { name, password }),
        json,
        "registered and signed in",
    )
    .await
}

/// Signs in and saves the token.
pub async fn login(addr: &str, args: &CredentialArgs, json: bool) -> anyhow::Result<u8> {
    let password = read_password(args, &args.name, addr, Confirm::No)?;
    let name = args.name.clone();
    sign_in(
        addr,
        Op::Base(BaseOp::Login { name, password }),
        json,
        "signed in",
    )
    .await
}

async fn sign_in(addr: &str, op: Op, json: bool, done: &str) -> anyhow::Result<u8> {
    let (client, _) = session::connect(addr, None).await?;
    let reply = client
        .request(op)
        .await
        .map_err(|e| session::explain(addr, e, false))?;
    let Reply::Base(BaseReply::Session {
        user,
        token,
        expires_at_ms,
    }) = reply
    else {
        anyhow::bail!("{addr}: unexpected reply to sign-in");
    };
    let mut store = Store::load()?;
    store.servers.insert(
        addr.to_owned(),
        Credential {
            user: user.name.clone(),
            user_id: Some(user.id),
            token,
            expires_at_ms,
        },
    );
    store.save()?;
    if json {
        output::json(&json!({ "addr": addr, "user": user, "expires_at_ms": expires_at_ms }))?;
    } else {
        println!("{done} as {} on {addr}", user.name);
    }
    Ok(0)
}

/// Forgets the saved token for `addr`.
pub fn logout(addr: &str, json: bool) -> anyhow::Result<u8> {
    let mut store = Store::load()?;
    let removed = store.servers.remove(addr);
    store.save()?;
    if json {
        let user = removed
            .as_ref()
            .map(|c| json!({ "id": c.user_id, "name": c.user }));
        output::json(&json!({ "addr": addr, "user": user }))?;
    } else {
        // Nothing to forget prints nothing on stdout (docs/CLI.md); the
        // note is for whoever watches the terminal.
        match &removed {
            Some(c) => println!("signed out {} from {addr}", c.user),
            None => eprintln!("not signed in on {addr}"),
        }
    }
    Ok(if removed.is_some() { 0 } else { 1 })
}

/// Prints the signed-in user; exit 1 when not signed in.
pub async fn whoami(addr: &str, json: bool) -> anyhow::Result<u8> {
    let token = Store::load()?.token_for(addr);
    let (client, _) = session::connect(addr, token).await?;
    let reply = client
        .request(BaseOp::Whoami)
        .await
        .map_err(|e| session::explain(addr, e, false))?;
    let Reply::Base(BaseReply::Whoami { user, session }) = reply else {
        anyhow::bail!("{addr}: unexpected reply to whoami");
    };
    if json {
        // A user is always {id, name}; the session says which connection.
        let session = json!({ "id": session.id, "client": session.client });
        output::json(&json!({ "addr": addr, "user": user, "session": session }))?;
    } else {
        match &user {
            Some(u) => println!("{} (id {}) on {addr}", u.name, u.id),
            // Nobody to print: stdout stays empty (docs/CLI.md).
            None => eprintln!("not signed in on {addr} (use: agora login NAME)"),
        }
    }
    Ok(if user.is_some() { 0 } else { 1 })
}

#[derive(PartialEq)]
enum Confirm {
    Yes,
    No,
}

/// Reads the password from stdin (`--password-stdin`) or a no-echo prompt
/// on the terminal that says whose password, for which daemon.
fn read_password(
    args: &CredentialArgs,
    name: &str,
    addr: &str,
    confirm: Confirm,
) -> anyhow::Result<String> {
    if args.password_stdin {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .context("cannot read the password from standard input")?;
        let password = line.trim_end_matches(['\n', '\r']).to_owned();
        anyhow::ensure!(!password.is_empty(), "no password on standard input");
        return Ok(password);
    }
    anyhow::ensure!(
        std::io::stdin().is_terminal(),
        "no terminal to ask for a password; pass --password-stdin and pipe it in"
    );
    let (prompt, again) = match confirm {
        Confirm::Yes => (
            format!("New password for {name} on {addr} (8 or more characters): "),
            Some(format!("Repeat the password for {name}: ")),
        ),
        Confirm::No => (format!("Password for {name} on {addr}: "), None),
    };
    let password = rpassword::prompt_password(prompt).context("cannot read the password")?;
    if let Some(again) = again {
        let repeated = rpassword::prompt_password(again).context("cannot read the password")?;
        anyhow::ensure!(
            password == repeated,
            "the passwords differ; nothing was changed"
        );
    }
    Ok(password)
}
