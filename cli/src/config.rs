//! `agora daemon --config FILE` and `agora config check`.
//!
//! Where a daemon setting comes from, first match wins: a flag, its
//! `AGORA_*` environment variable, the config file, the default. The file
//! is TOML; its keys are the daemon's long flags with `_` for `-`
//! (`max_frame = "8MiB"`, `listen = "0.0.0.0:7070"`), each value as the
//! flag takes it: a string or number, `true`/`false` for a switch, an
//! array for a flag that repeats (`seeds = ["a:7946", "b:7946"]`). An
//! unknown key is an error that names it, so a typo never goes unnoticed.
//!
//! The file's settings are applied by parsing the command line again with
//! `--key=value` appended for each key no flag and no variable set, so
//! clap checks a file's values exactly as it checks flags.

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, anyhow, bail};
use clap::parser::ValueSource;
use clap::{ArgAction, ArgMatches};

/// The daemon's flag naming the file.
const CONFIG: &str = "config";

/// Keys a file may not set: the file itself, and what only makes sense
/// typed (help, version, --json output).
const NOT_KEYS: &[&str] = &[CONFIG, "help", "version", "json"];

/// Why the command line cannot be used: a usage error (clap prints it
/// with the usage and exits 2), or a config file's problem (one line).
pub enum Refused {
    /// A flag or a file value clap refused.
    Usage(clap::Error),
    /// The file cannot be read or says something wrong.
    File(anyhow::Error),
}

/// The parsed command line, with the config file's settings applied when
/// `agora daemon` names one (`--config` or `AGORA_CONFIG`).
pub fn apply(argv: Vec<OsString>) -> Result<ArgMatches, Refused> {
    resolve(argv).map(|(matches, _)| matches)
}

/// [`apply`], also answering the keys the file set.
fn resolve(argv: Vec<OsString>) -> Result<(ArgMatches, BTreeSet<String>), Refused> {
    let matches = crate::help::command()
        .try_get_matches_from(&argv)
        .map_err(Refused::Usage)?;
    let Some(("daemon", sub)) = matches.subcommand() else {
        return Ok((matches, BTreeSet::new()));
    };
    let Some(path) = sub.get_one::<PathBuf>(CONFIG).cloned() else {
        return Ok((matches, BTreeSet::new()));
    };
    let settings = read(&path, sub).map_err(Refused::File)?;
    if settings.args.is_empty() {
        return Ok((matches, settings.applied));
    }
    let matches = reparse(argv, &settings, &path).map_err(Refused::File)?;
    Ok((matches, settings.applied))
}

/// A file's settings as flags, and the keys they came from.
struct Settings {
    /// `--key=value` for each key no flag and no variable overrides.
    args: Vec<OsString>,
    /// The keys `args` sets.
    applied: BTreeSet<String>,
}

fn reparse(
    mut argv: Vec<OsString>,
    settings: &Settings,
    path: &Path,
) -> anyhow::Result<ArgMatches> {
    argv.extend(settings.args.iter().cloned());
    crate::help::command()
        .try_get_matches_from(argv)
        .map_err(|err| anyhow!("{}: {}", path.display(), clap_line(&err)))
}

/// Reads `path` and checks every key and value against the daemon's
/// flags; `given` is what the command line and environment set.
fn read(path: &Path, given: &ArgMatches) -> anyhow::Result<Settings> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the config file {}", path.display()))?;
    let table: toml::Table = text.parse().map_err(|err: toml::de::Error| {
        let line = err
            .span()
            .map(|s| text[..s.start.min(text.len())].lines().count().max(1));
        let at = line.map(|l| format!(" (line {l})")).unwrap_or_default();
        anyhow!("{}{at}: {}", path.display(), err.message())
    })?;
    let daemon = daemon_command();
    let mut settings = Settings {
        args: Vec::new(),
        applied: BTreeSet::new(),
    };
    for (key, value) in &table {
        let arg = settable(&daemon, key).ok_or_else(|| unknown(path, key, &daemon))?;
        let args = flags(arg, value).map_err(|why| anyhow!("{}: {key}: {why}", path.display()))?;
        check(&daemon, &args).map_err(|err| anyhow!("{}: {key}: {err}", path.display()))?;
        let overridden = matches!(
            given.value_source(key),
            Some(ValueSource::CommandLine | ValueSource::EnvVariable)
        );
        if !overridden && !args.is_empty() {
            settings.args.extend(args);
            settings.applied.insert(key.clone());
        }
    }
    Ok(settings)
}

/// `agora daemon`'s definition, with the global options it takes.
fn daemon_command() -> clap::Command {
    let mut cmd = crate::help::command();
    cmd.build();
    cmd.find_subcommand("daemon")
        .cloned()
        .expect("agora has a daemon subcommand")
}

/// The flag a file's `key` sets, if it may set one.
fn settable<'a>(daemon: &'a clap::Command, key: &str) -> Option<&'a clap::Arg> {
    if NOT_KEYS.contains(&key) {
        return None;
    }
    daemon
        .get_arguments()
        .find(|a| a.get_id() == key && a.get_long().is_some() && !a.is_hide_set())
}

fn unknown(path: &Path, key: &str, daemon: &clap::Command) -> anyhow::Error {
    let underscored = key.replace('-', "_");
    let hint = if underscored != key && settable(daemon, &underscored).is_some() {
        format!(" (keys are written with `_`: `{underscored}`)")
    } else {
        " (the keys are `agora daemon`'s flags with `_` for `-`: see `agora daemon --help`)"
            .to_owned()
    };
    anyhow!("{}: unknown key `{key}`{hint}", path.display())
}

/// The flags that set `arg` to `value`.
fn flags(arg: &clap::Arg, value: &toml::Value) -> Result<Vec<OsString>, String> {
    let long = arg.get_long().unwrap_or_default();
    if matches!(arg.get_action(), ArgAction::SetTrue) {
        return match value {
            toml::Value::Boolean(true) => Ok(vec![format!("--{long}").into()]),
            toml::Value::Boolean(false) => Ok(Vec::new()),
            _ => Err("a switch: true or false".into()),
        };
    }
    let one = |v: &toml::Value| -> Result<OsString, String> {
        let text = match v {
            toml::Value::String(s) => s.clone(),
            toml::Value::Integer(i) => i.to_string(),
            toml::Value::Float(f) => f.to_string(),
            toml::Value::Boolean(b) => b.to_string(),
            _ => return Err("a string, a number or a boolean".into()),
        };
        Ok(format!("--{long}={text}").into())
    };
    match value {
        toml::Value::Array(items) if matches!(arg.get_action(), ArgAction::Append) => {
            items.iter().map(one).collect()
        }
        toml::Value::Array(_) => Err("takes one value, not a list".into()),
        other => Ok(vec![one(other)?]),
    }
}

/// Whether clap takes `args` for the daemon (on their own: what another
/// key requires or excludes is checked once all are applied).
fn check(daemon: &clap::Command, args: &[OsString]) -> Result<(), String> {
    if args.is_empty() {
        return Ok(());
    }
    let mut argv: Vec<OsString> = vec!["daemon".into()];
    argv.extend(args.iter().cloned());
    match daemon.clone().try_get_matches_from(argv) {
        Ok(_) => Ok(()),
        Err(err)
            if matches!(
                err.kind(),
                clap::error::ErrorKind::MissingRequiredArgument
                    | clap::error::ErrorKind::ArgumentConflict
            ) =>
        {
            Ok(())
        }
        Err(err) => Err(clap_line(&err)),
    }
}

/// A clap error on one line, without its `error: ` prefix, usage and
/// tips.
fn clap_line(err: &clap::Error) -> String {
    let text = err.render().to_string();
    let what = text.split("\n\n").next().unwrap_or_default();
    let what = what.strip_prefix("error: ").unwrap_or(what);
    what.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// One setting of the effective configuration.
#[derive(Debug, serde::Serialize)]
pub struct Setting {
    /// The file key.
    pub key: String,
    /// Its value (several for a repeated flag); `None` when unset.
    pub value: Option<Vec<String>>,
    /// Where it came from: `file`, `env`, `default` or `unset`.
    pub source: &'static str,
    /// Whether the value is masked.
    pub secret: bool,
    /// Whether it is a switch (`true`/`false`).
    #[serde(skip)]
    pub switch: bool,
    /// Whether it takes a list.
    #[serde(skip)]
    pub list: bool,
}

/// The daemon's effective configuration with `file` (or AGORA_CONFIG's,
/// or none): every setting, secrets masked.
pub fn effective(file: Option<&Path>) -> anyhow::Result<(Option<PathBuf>, Vec<Setting>)> {
    let mut argv: Vec<OsString> = vec!["agora".into(), "daemon".into()];
    if let Some(file) = file {
        argv.extend(["--config".into(), file.as_os_str().to_owned()]);
    }
    let (matches, applied) = resolve(argv).map_err(|refused| match refused {
        Refused::Usage(err) => anyhow!("{}", clap_line(&err)),
        Refused::File(err) => err,
    })?;
    let Some(("daemon", sub)) = matches.subcommand() else {
        bail!("agora has no daemon command");
    };
    let path = sub.get_one::<PathBuf>(CONFIG).cloned();
    let daemon = daemon_command();
    let mut settings: Vec<Setting> = daemon
        .get_arguments()
        .filter_map(|arg| settable(&daemon, arg.get_id().as_str()))
        .map(|arg| {
            let key = arg.get_id().as_str().to_owned();
            let secret = arg.is_hide_env_values_set();
            let value = sub.get_raw(&key).map(|values| {
                values
                    .map(|v| {
                        let v = v.to_string_lossy();
                        if secret { mask(&v) } else { v.into_owned() }
                    })
                    .collect::<Vec<_>>()
            });
            let source = if applied.contains(&key) {
                "file"
            } else {
                match sub.value_source(&key) {
                    Some(ValueSource::EnvVariable) => "env",
                    Some(ValueSource::CommandLine) => "flag",
                    Some(ValueSource::DefaultValue) => "default",
                    _ => "unset",
                }
            };
            Setting {
                key,
                value: value.filter(|v| !v.is_empty()),
                source,
                secret,
                switch: matches!(arg.get_action(), ArgAction::SetTrue),
                list: matches!(arg.get_action(), ArgAction::Append),
            }
        })
        .collect();
    settings.sort_by(|a, b| a.key.cmp(&b.key));
    Ok((path, settings))
}

/// A secret as shown: a URL keeps all but its password, anything else
/// becomes asterisks.
pub fn mask(value: &str) -> String {
    if let Some((scheme, rest)) = value.split_once("://") {
        let (authority, tail) = rest.split_at(rest.find(['/', '?']).unwrap_or(rest.len()));
        if let Some((userinfo, host)) = authority.rsplit_once('@') {
            let user = userinfo.split(':').next().unwrap_or_default();
            return format!("{scheme}://{user}:********@{host}{tail}");
        }
        if !rest.contains("password=") {
            return value.to_owned();
        }
    }
    "********".to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_keep_only_what_is_not_secret() {
        assert_eq!(
            mask("postgres://agora:s3cret@db:5432/agora?sslmode=require"),
            "postgres://agora:********@db:5432/agora?sslmode=require"
        );
        assert_eq!(mask("postgres://db/agora"), "postgres://db/agora");
        assert_eq!(mask("postgres://db/agora?password=x"), "********");
        assert_eq!(mask("hunter2hunter2"), "********");
    }

    #[test]
    fn every_daemon_flag_but_the_typed_ones_is_a_key() {
        let daemon = daemon_command();
        for key in [
            "listen",
            "max_frame",
            "database",
            "seeds",
            "cache_persist",
            "log_format",
        ] {
            assert!(settable(&daemon, key).is_some(), "{key}");
        }
        for key in ["config", "help", "json", "max-frame", "nonsense"] {
            assert!(settable(&daemon, key).is_none(), "{key}");
        }
    }

    #[test]
    fn values_become_flags_as_typed() {
        let daemon = daemon_command();
        let arg = |k| settable(&daemon, k).unwrap();
        let v = |s: &str| -> toml::Value {
            toml::from_str::<toml::Table>(&format!("x = {s}")).unwrap()["x"].clone()
        };
        assert_eq!(
            flags(arg("max_frame"), &v("\"1MiB\"")).unwrap(),
            ["--max-frame=1MiB"]
        );
        assert_eq!(
            flags(arg("max_connections"), &v("10")).unwrap(),
            ["--max-connections=10"]
        );
        assert_eq!(
            flags(arg("cache_persist"), &v("true")).unwrap(),
            ["--cache-persist"]
        );
        assert!(flags(arg("cache_persist"), &v("false")).unwrap().is_empty());
        assert!(flags(arg("cache_persist"), &v("\"yes\"")).is_err());
        assert_eq!(
            flags(arg("seeds"), &v("[\"a:1\", \"b:2\"]")).unwrap(),
            ["--seeds=a:1", "--seeds=b:2"]
        );
        assert!(flags(arg("listen"), &v("[\"a:1\"]")).is_err());
        assert!(flags(arg("listen"), &v("{ a = 1 }")).is_err());
        assert!(check(&daemon, &flags(arg("max_frame"), &v("\"lots\"")).unwrap()).is_err());
        assert!(check(&daemon, &flags(arg("max_frame"), &v("\"1MiB\"")).unwrap()).is_ok());
    }
}
