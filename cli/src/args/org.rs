//! The flags of `agora org …`: organizations, their members and
//! invitations, through the blog API's `/api/orgs` routes (docs/BLOG.md,
//! "Organizations"). Billing's leaves (`plan`, `usage`, `invoices`) are
//! added beside these.

use clap::{Args, Subcommand};

use super::GroupRemoteArgs;

/// `agora org SUBCOMMAND`
#[derive(Debug, Args)]
pub struct OrgArgs {
    /// Which daemon's sign-in to use: the token `agora login` saved for
    /// this protocol address.
    #[command(flatten)]
    pub remote: GroupRemoteArgs,

    /// The daemon's HTTP listener.
    #[command(flatten)]
    pub http: crate::args::HttpRemoteArgs,

    /// What to do.
    #[command(subcommand)]
    pub command: OrgCommand,
}

/// `agora org …`
#[derive(Debug, Subcommand)]
pub enum OrgCommand {
    /// Create an organization; you become its owner. Its blog is then at
    /// `SLUG.<blog domain>` (or `agora blog --org SLUG`).
    Create {
        /// The subdomain: 1-63 of a-z, 0-9 and '-', not starting or ending
        /// with '-'; www, api, admin, t, static, assets and mail are
        /// reserved.
        slug: String,
        /// The display name (default: the slug).
        #[arg(long, value_name = "NAME")]
        name: Option<String>,
    },
    /// The organizations you belong to, with your role in each.
    List,
    /// An organization's members and their roles (members only).
    Members {
        /// The organization's slug.
        org: String,
    },
    /// Invite a user (admins and owners); prints the invitation's token,
    /// which the invitee answers with `agora org accept TOKEN`. It expires
    /// after 7 days.
    Invite {
        /// The organization's slug.
        org: String,
        /// The invitee's user name.
        user: String,
        /// The role they get by accepting: owner, admin, author or viewer
        /// (inviting an owner needs an owner).
        #[arg(long, default_value = "author", value_name = "ROLE")]
        role: String,
    },
    /// Accept an invitation: you become a member with its role.
    Accept {
        /// The token `agora org invite` printed.
        token: String,
    },
    /// Decline an invitation.
    Decline {
        /// The token `agora org invite` printed.
        token: String,
    },
    /// Change a member's role (admins change non-owners; owners anyone).
    /// The last owner cannot step down: transfer ownership first.
    Role {
        /// The organization's slug.
        org: String,
        /// The member's user name.
        user: String,
        /// The new role: owner, admin, author or viewer.
        role: String,
    },
    /// Remove a member; removing yourself is leaving. The last owner
    /// cannot leave: transfer ownership first.
    Remove {
        /// The organization's slug.
        org: String,
        /// The member's user name (yours to leave).
        user: String,
    },
    /// Make a member the owner (owners only); you become an admin.
    Transfer {
        /// The organization's slug.
        org: String,
        /// The member who becomes the owner.
        user: String,
    },
    /// Delete an organization (owners only): it is gone at once and its
    /// blog file is removed after the daemon's grace period
    /// (--org-delete-grace). Asks for the slug on a terminal; elsewhere
    /// needs --yes.
    Delete {
        /// The organization's slug.
        org: String,
        /// Do not ask: delete.
        #[arg(long)]
        yes: bool,
    },
    #[command(flatten)]
    Billing(super::org_billing::BillingCommand),
}
