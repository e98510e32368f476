//! `agora config check`: a daemon config file checked, and the settings
//! it gives printed (cli/src/config.rs has the rules).

use serde_json::json;

use crate::args::deploy::ConfigCommand;
use crate::config::{Setting, effective};
use crate::output;

/// Runs `agora config …`.
pub fn run(command: ConfigCommand, json: bool) -> anyhow::Result<u8> {
    match command {
        ConfigCommand::Check { file } => {
            let (path, settings) = effective(file.as_deref())?;
            if json {
                output::json(&json!({
                    "file": path.as_ref().map(|p| p.display().to_string()),
                    "settings": settings,
                }))?;
            } else {
                match &path {
                    Some(path) => println!("# {}: valid", path.display()),
                    None => println!("# no config file: the environment and the defaults"),
                }
                for s in &settings {
                    println!("{}", line(s));
                }
            }
            Ok(0)
        }
    }
}

/// `key = "value"  # source`, or the key commented out when unset.
fn line(s: &Setting) -> String {
    let quote = |v: &String| toml_string(v);
    match &s.value {
        None => format!("# {} (unset)", s.key),
        Some(values) => {
            let value = match values.as_slice() {
                [one] if s.switch => one.clone(),
                [one] if !s.list => quote(one),
                many => format!(
                    "[{}]",
                    many.iter().map(quote).collect::<Vec<_>>().join(", ")
                ),
            };
            let masked = if s.secret { ", masked" } else { "" };
            format!("{} = {value}  # {}{masked}", s.key, s.source)
        }
    }
}

/// A TOML basic string.
fn toml_string(v: &str) -> String {
    toml::Value::String(v.to_owned()).to_string()
}
