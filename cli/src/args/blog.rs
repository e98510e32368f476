//! The flags of `agora blog …` and the daemon's `--blog-*` flags (a child
//! of `args`, so that it may use `GroupRemoteArgs` without a loop).

use std::path::PathBuf;

use clap::{Args, Subcommand};

use super::GroupRemoteArgs;

/// The default address of the daemon's HTTP listener.
pub const DEFAULT_HTTP_ADDR: &str = "127.0.0.1:7080";

/// `agora blog SUBCOMMAND`
#[derive(Debug, Args)]
pub struct BlogArgs {
    /// Which daemon's sign-in to use: the token `agora login` saved for
    /// this protocol address.
    #[command(flatten)]
    pub remote: GroupRemoteArgs,

    /// The daemon's HTTP listener.
    #[command(flatten)]
    pub http: crate::args::HttpRemoteArgs,

    /// The organization whose blog to use (its slug, see `agora org
    /// list`); without it, the blog without an organization. Requests go
    /// to `/t/ORG/api/…`, the same as `Host: ORG.<blog domain>`.
    #[arg(long, global = true, value_name = "ORG")]
    pub org: Option<String>,

    /// What to do.
    #[command(subcommand)]
    pub command: BlogCommand,
}

/// `agora blog …`
#[derive(Debug, Subcommand)]
pub enum BlogCommand {
    /// Write articles.
    #[command(subcommand)]
    Post(PostCommand),
    /// List articles, newest first (20 unless --limit).
    Posts {
        /// Only articles with this tag.
        #[arg(long, value_name = "TAG")]
        tag: Option<String>,
        /// Only articles by this user.
        #[arg(long, value_name = "USER")]
        author: Option<String>,
        /// Only articles this user favourited.
        #[arg(long, value_name = "USER")]
        favorited: Option<String>,
        /// Only articles by the users you follow (needs a sign-in).
        #[arg(long, conflicts_with_all = ["tag", "author", "favorited"])]
        feed: bool,
        /// At most this many articles (1-100).
        #[arg(long, default_value_t = 20, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=100))]
        limit: u32,
        /// Skip this many articles first.
        #[arg(long, value_name = "N", conflicts_with = "cursor")]
        offset: Option<u64>,
        /// Continue after the page that printed this cursor (`next_cursor`
        /// with --json).
        #[arg(long, value_name = "CURSOR")]
        cursor: Option<String>,
    },
    /// Show one article with its body.
    Show {
        /// The article's slug (as `agora blog posts` lists it).
        slug: String,
    },
    /// Change your article: its title (which renames the slug),
    /// description, body or tags.
    Edit {
        /// The article's slug.
        slug: String,
        /// A new title.
        #[arg(long, value_name = "TITLE")]
        title: Option<String>,
        /// A new description.
        #[arg(long, value_name = "TEXT")]
        description: Option<String>,
        /// A new body from this file (`-`: standard input).
        #[arg(long, value_name = "FILE")]
        body_file: Option<PathBuf>,
        /// Replace the tags (repeat for several).
        #[arg(long = "tag", value_name = "TAG")]
        tags: Vec<String>,
    },
    /// Delete your article, with its comments.
    Rm {
        /// The article's slug.
        slug: String,
    },
    /// Comment on an article, or reply to a comment.
    Comment {
        /// The article's slug.
        slug: String,
        /// The text (at most 16 KiB); `-` reads standard input.
        text: String,
        /// Reply to the comment with this id.
        #[arg(long, value_name = "ID")]
        reply_to: Option<i64>,
    },
    /// An article's comments, oldest first.
    Comments {
        /// The article's slug.
        slug: String,
        /// As a tree of replies, with deleted comments that still have
        /// replies shown as [deleted].
        #[arg(long)]
        tree: bool,
    },
}

/// `agora blog post …`
#[derive(Debug, Subcommand)]
pub enum PostCommand {
    /// Publish an article; prints its slug.
    New {
        /// The title; the slug is made from it.
        #[arg(long, value_name = "TITLE")]
        title: String,
        /// A one-line description.
        #[arg(long, value_name = "TEXT")]
        description: String,
        /// A tag (repeat for several).
        #[arg(long = "tag", value_name = "TAG")]
        tags: Vec<String>,
        /// The body (Markdown) from this file; `-` or no flag reads
        /// standard input.
        #[arg(long, value_name = "FILE")]
        body_file: Option<PathBuf>,
    },
}

/// The daemon's `--blog-*` flags.
#[derive(Debug, Args, Clone)]
pub struct BlogDaemonArgs {
    /// Blog API reads (GET) one client IP, and one user, may make per
    /// second, sustained.
    #[arg(
        long,
        env = "AGORA_BLOG_READ_RATE",
        default_value_t = 50.0,
        value_name = "N"
    )]
    pub blog_read_rate: f64,

    /// Blog API reads allowed at once after a quiet spell.
    #[arg(
        long,
        env = "AGORA_BLOG_READ_BURST",
        default_value_t = 100.0,
        value_name = "N"
    )]
    pub blog_read_burst: f64,

    /// Blog API writes (POST, PUT, DELETE) per second, per IP and per
    /// user, sustained.
    #[arg(
        long,
        env = "AGORA_BLOG_WRITE_RATE",
        default_value_t = 5.0,
        value_name = "N"
    )]
    pub blog_write_rate: f64,

    /// Blog API writes allowed at once.
    #[arg(
        long,
        env = "AGORA_BLOG_WRITE_BURST",
        default_value_t = 30.0,
        value_name = "N"
    )]
    pub blog_write_burst: f64,

    /// Blog sign-up and login attempts per second, per IP, sustained.
    #[arg(
        long,
        env = "AGORA_BLOG_LOGIN_RATE",
        default_value_t = 0.2,
        value_name = "N"
    )]
    pub blog_login_rate: f64,

    /// Blog sign-up and login attempts allowed at once.
    #[arg(
        long,
        env = "AGORA_BLOG_LOGIN_BURST",
        default_value_t = 10.0,
        value_name = "N"
    )]
    pub blog_login_burst: f64,

    /// Largest blog API request body, e.g. 1MiB; larger ones get 413.
    #[arg(long, env = "AGORA_BLOG_MAX_BODY", default_value = "1MiB", value_parser = crate::size::parse_size, value_name = "SIZE")]
    pub blog_max_body: usize,

    /// Anonymous blog API responses kept in memory (any write makes them
    /// stale); 0 turns the cache off.
    #[arg(
        long,
        env = "AGORA_BLOG_CACHE",
        default_value_t = 4096,
        value_name = "N"
    )]
    pub blog_cache: usize,

    /// The blog's base domain: `Host: acme.<DOMAIN>` serves organization
    /// acme's blog; the bare domain and any other host the blog without
    /// an organization.
    #[arg(
        long,
        env = "AGORA_BLOG_DOMAIN",
        default_value = "blog.localhost",
        value_name = "DOMAIN"
    )]
    pub blog_domain: String,

    /// Organizations' blog files kept open at once (least recently used
    /// closed first).
    #[arg(
        long,
        env = "AGORA_BLOG_TENANT_HANDLES",
        default_value_t = 256,
        value_name = "N"
    )]
    pub blog_tenant_handles: usize,

    /// How long a deleted organization's blog file is kept (its owner may
    /// restore it meanwhile) before the daemon removes it, e.g. 7d; 0
    /// removes it at the next sweep (every minute).
    #[arg(long, env = "AGORA_ORG_DELETE_GRACE", default_value = "7d", value_parser = crate::duration::parse_duration_or_zero, value_name = "DURATION")]
    pub org_delete_grace: std::time::Duration,
}

impl BlogDaemonArgs {
    /// The daemon's blog settings.
    pub fn config(&self) -> anyhow::Result<agora_daemon::blog::BlogConfig> {
        use agora_daemon::blog::limits::{Rate, RateLimits};
        let rate = |name: &str, per_sec: f64, burst: f64| -> anyhow::Result<Rate> {
            anyhow::ensure!(
                per_sec.is_finite() && per_sec > 0.0 && burst.is_finite() && burst >= 1.0,
                "--blog-{name}-rate must be positive and --blog-{name}-burst at least 1"
            );
            Ok(Rate { per_sec, burst })
        };
        anyhow::ensure!(
            self.blog_max_body >= 1024,
            "--blog-max-body must be at least 1KiB"
        );
        anyhow::ensure!(
            self.blog_tenant_handles >= 1,
            "--blog-tenant-handles must be at least 1"
        );
        Ok(agora_daemon::blog::BlogConfig {
            limits: RateLimits {
                read: rate("read", self.blog_read_rate, self.blog_read_burst)?,
                write: rate("write", self.blog_write_rate, self.blog_write_burst)?,
                auth: rate("login", self.blog_login_rate, self.blog_login_burst)?,
            },
            max_body: self.blog_max_body,
            cache_entries: self.blog_cache,
            domain: agora_daemon::blog::BlogConfig::domain(&self.blog_domain)?,
            tenant_handles: self.blog_tenant_handles,
            org_delete_grace: self.org_delete_grace,
        })
    }
}
