//! `agora completions` and `agora man`: generated from the clap
//! definitions and the extras in `help.rs`, so they never drift from
//! `--help`.

use std::io::Write as _;
use std::path::Path;

use anyhow::Context as _;
use clap::CommandFactory as _;

use crate::args::Cli;
use crate::help::{self, COMMON_ENVIRONMENT};

/// Prints the completion script for `shell`.
pub fn completions(shell: clap_complete::Shell) -> anyhow::Result<u8> {
    let mut cmd = Cli::command();
    clap_complete::generate(shell, &mut cmd, "agora", &mut std::io::stdout());
    Ok(0)
}

/// Writes `agora.1` and `agora-SUB.1` (recursively, e.g.
/// `agora-bench-ping.1`) into `dir`.
pub fn man(dir: &Path) -> anyhow::Result<u8> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut cmd = Cli::command().disable_help_subcommand(true);
    cmd.build();
    write_pages(&cmd, "agora", "", dir)?;
    Ok(0)
}

fn write_pages(cmd: &clap::Command, name: &str, path: &str, dir: &Path) -> anyhow::Result<()> {
    let page = cmd.clone().name(name.to_owned());
    let mut buf = Vec::new();
    render(&page, name, path, &mut buf)?;
    let file = dir.join(format!("{name}.1"));
    std::fs::write(&file, buf).with_context(|| format!("cannot write {}", file.display()))?;
    for sub in cmd.get_subcommands() {
        let sub_path = if path.is_empty() {
            sub.get_name().to_owned()
        } else {
            format!("{path} {}", sub.get_name())
        };
        write_pages(sub, &format!("{name}-{}", sub.get_name()), &sub_path, dir)?;
    }
    Ok(())
}

/// One page: clap_mangen's sections for what clap knows (name, synopsis,
/// description, options, subcommands), then ours.
fn render(cmd: &clap::Command, name: &str, path: &str, out: &mut Vec<u8>) -> anyhow::Result<()> {
    let man = clap_mangen::Man::new(cmd.clone());
    man.render_title(out)?;
    man.render_name_section(out)?;
    man.render_synopsis_section(out)?;
    man.render_description_section(out)?;
    if cmd.get_arguments().any(|a| !a.is_hide_set()) {
        man.render_options_section(out)?;
    }
    if cmd.get_subcommands().next().is_some() {
        man.render_subcommands_section(out)?;
    }
    if let Some(notes) = cmd.get_after_long_help().or(cmd.get_after_help()) {
        section(out, "NOTES")?;
        paragraphs(out, &notes.to_string())?;
    }
    let extra = help::extra(path);
    if let Some(e) = extra.filter(|e| !e.examples.is_empty()) {
        section(out, "EXAMPLES")?;
        for (line, what) in e.examples {
            writeln!(out, ".TP\n.B {}\n{}", escape(line), escape(what))?;
        }
    }
    section(out, "EXIT STATUS")?;
    for (code, what) in help::exit_status(path) {
        writeln!(out, ".TP\n.B {code}\n{}", escape(&what))?;
    }
    section(out, "ENVIRONMENT")?;
    let mut env: Vec<(String, String)> = COMMON_ENVIRONMENT
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    for arg in cmd.get_arguments().filter(|a| !a.is_hide_set()) {
        if let Some(var) = arg.get_env() {
            let flag = arg
                .get_long()
                .map(|l| format!("same as --{l}"))
                .unwrap_or_else(|| "see OPTIONS".into());
            env.push((var.to_string_lossy().into_owned(), flag));
        }
    }
    for (var, what) in env {
        writeln!(out, ".TP\n.B {}\n{}", escape(&var), escape(&what))?;
    }
    if let Some(e) = extra.filter(|e| !e.files.is_empty()) {
        section(out, "FILES")?;
        for (file, what) in e.files {
            writeln!(out, ".TP\n.I {}\n{}", escape(file), escape(what))?;
        }
    }
    let mut see: Vec<String> = Vec::new();
    if let Some((parent, _)) = name.rsplit_once('-') {
        see.push(format!("{parent}(1)"));
    }
    see.extend(
        cmd.get_subcommands()
            .map(|s| format!("{name}-{}(1)", s.get_name())),
    );
    if let Some(e) = extra {
        see.extend(e.see_also.iter().map(|p| format!("{p}(1)")));
    }
    see.dedup();
    if !see.is_empty() {
        section(out, "SEE ALSO")?;
        let refs: Vec<String> = see
            .iter()
            .map(|s| {
                let (page, sect) = s.split_once('(').unwrap_or((s, ""));
                format!(".BR {} ({}", escape(page), sect)
            })
            .collect();
        for (i, r) in refs.iter().enumerate() {
            let comma = if i + 1 < refs.len() { "," } else { "" };
            writeln!(out, "{r}{comma}")?;
        }
    }
    section(out, "VERSION")?;
    writeln!(out, "v{}", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}

fn section(out: &mut Vec<u8>, title: &str) -> std::io::Result<()> {
    writeln!(out, ".SH \"{title}\"")
}

/// Free text as roff paragraphs (blank lines separate them; indented
/// lines are kept as they are).
fn paragraphs(out: &mut Vec<u8>, text: &str) -> std::io::Result<()> {
    writeln!(out, ".nf")?;
    for line in text.lines() {
        writeln!(out, "{}", escape(line))?;
    }
    writeln!(out, ".fi")
}

/// Escapes text for roff: backslashes, hyphens (so they are not turned
/// into typographic ones) and a leading dot or quote.
fn escape(text: &str) -> String {
    let mut s = text.replace('\\', "\\e").replace('-', "\\-");
    if s.starts_with('.') || s.starts_with('\'') {
        s.insert_str(0, "\\&");
    }
    s
}
