//! End-to-end tests: the real `agora` binary, real sockets, real SQLite
//! files in temporary directories. Each test starts its own daemon on port
//! 0 and learns the addresses from `--ready-file`.

mod support;

mod accounts;
mod billing;
mod blog;
mod browser;
mod cache;
mod cache_cli;
mod cache_core;
mod cache_observe;
mod cache_script;
mod cache_stream;
mod chat;
mod cli;
mod cluster;
mod cluster_client;
mod cluster_entropy;
mod cluster_history;
mod cluster_ops;
mod cluster_pubsub;
mod cluster_repl;
mod commands;
mod conventions;
mod dashboard_web;
mod deploy;
mod docs;
mod fleet;
mod fleet_blog;
mod fleet_chat;
mod fleet_games;
mod fleet_jobs;
mod fleet_play;
mod fleet_ssh;
mod games;
mod history;
mod jobs;
mod metrics;
mod network;
mod orgcli;
mod orgs;
mod protocol;
mod protocol_rules;
mod proxied;
mod rolling;
mod sdk;
mod shutdown;
mod ssh;
mod tmux;
