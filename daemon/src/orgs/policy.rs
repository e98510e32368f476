//! Who may do what in an organization: one table, [`TABLE`], role ×
//! action, consulted by [`allows`] for every request the API serves under
//! an organization (blog routes and `/api/orgs`). Pure and I/O-free.
//!
//! A cell is [`Cell::Yes`], [`Cell::No`], or [`Cell::Own`]: allowed only
//! on the actor's own resource (an author edits only their own articles).
//! The first column, [`Who::Outsider`], is anyone who is not a member:
//! anonymous readers and signed-in users of other organizations alike.
//! docs/BLOG.md shows the same table; a test checks they agree.

use agora_db::orgs::Role;

/// Who is asking, as far as the policy cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Who {
    /// Not a member (or not signed in).
    Outsider,
    /// A member with this role.
    Member(Role),
}

impl Who {
    /// Every column of the table, in order.
    pub const ALL: [Who; 5] = [
        Who::Outsider,
        Who::Member(Role::Viewer),
        Who::Member(Role::Author),
        Who::Member(Role::Admin),
        Who::Member(Role::Owner),
    ];

    fn column(self) -> usize {
        match self {
            Who::Outsider => 0,
            Who::Member(Role::Viewer) => 1,
            Who::Member(Role::Author) => 2,
            Who::Member(Role::Admin) => 3,
            Who::Member(Role::Owner) => 4,
        }
    }
}

/// What someone wants to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Read published articles, comments, tags, profiles.
    Read,
    /// Write an article.
    CreateArticle,
    /// Change an article.
    UpdateArticle,
    /// Delete an article.
    DeleteArticle,
    /// Comment on an article.
    Comment,
    /// Delete a comment.
    DeleteComment,
    /// Favourite an article, follow a member.
    React,
    /// See the organization's name, plan and creation time.
    ViewOrg,
    /// List the members and their roles.
    ListMembers,
    /// Invite someone as viewer, author or admin.
    Invite,
    /// Change a non-owner's role to a non-owner role, or remove a
    /// non-owner.
    ManageMembers,
    /// Make someone an owner, change an owner's role, remove an owner,
    /// invite an owner.
    ManageOwners,
    /// Leave the organization.
    Leave,
    /// Hand ownership to another member.
    Transfer,
    /// Delete the organization.
    DeleteOrg,
    /// See the usage against the plan's limits.
    ViewUsage,
    /// See the subscription and the invoices.
    ViewBilling,
    /// Check out, change the plan, cancel, resume, set the custom domain.
    ManageBilling,
}

/// One cell of the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cell {
    /// Allowed.
    Yes,
    /// Allowed on one's own resource only.
    Own,
    /// Refused.
    No,
}

use Cell::{No, Own, Yes};

/// The policy: each action with its cells for outsider, viewer, author,
/// admin, owner.
pub const TABLE: &[(Action, [Cell; 5])] = &[
    (Action::Read, [Yes, Yes, Yes, Yes, Yes]),
    (Action::CreateArticle, [No, No, Yes, Yes, Yes]),
    (Action::UpdateArticle, [No, No, Own, Own, Own]),
    (Action::DeleteArticle, [No, No, Own, Yes, Yes]),
    (Action::Comment, [No, No, Yes, Yes, Yes]),
    (Action::DeleteComment, [No, No, Own, Yes, Yes]),
    (Action::React, [No, Yes, Yes, Yes, Yes]),
    (Action::ViewOrg, [Yes, Yes, Yes, Yes, Yes]),
    (Action::ListMembers, [No, Yes, Yes, Yes, Yes]),
    (Action::Invite, [No, No, No, Yes, Yes]),
    (Action::ManageMembers, [No, No, No, Yes, Yes]),
    (Action::ManageOwners, [No, No, No, No, Yes]),
    (Action::Leave, [No, Yes, Yes, Yes, Yes]),
    (Action::Transfer, [No, No, No, No, Yes]),
    (Action::DeleteOrg, [No, No, No, No, Yes]),
    (Action::ViewUsage, [No, Yes, Yes, Yes, Yes]),
    (Action::ViewBilling, [No, No, No, Yes, Yes]),
    (Action::ManageBilling, [No, No, No, Yes, Yes]),
];

/// The cell for `who` and `action`.
pub fn cell(who: Who, action: Action) -> Cell {
    TABLE
        .iter()
        .find(|(a, _)| *a == action)
        .map_or(No, |(_, cells)| cells[who.column()])
}

/// Whether `who` may do `action`; `own` says whether the resource is
/// theirs (ignored by [`Cell::Yes`] and [`Cell::No`]). Unlisted actions
/// are refused.
pub fn allows(who: Who, action: Action, own: bool) -> bool {
    match cell(who, action) {
        Yes => true,
        Own => own,
        No => false,
    }
}

/// Why `action` was refused, in one line.
pub fn refusal(who: Who, action: Action) -> &'static str {
    match (who, cell(who, action)) {
        (_, Own) => "only its author may do this (or an admin, where the policy says so)",
        (Who::Outsider, _) => "members of this organization only",
        _ => "your role in this organization does not allow this",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ACTIONS: [Action; 18] = [
        Action::Read,
        Action::CreateArticle,
        Action::UpdateArticle,
        Action::DeleteArticle,
        Action::Comment,
        Action::DeleteComment,
        Action::React,
        Action::ViewOrg,
        Action::ListMembers,
        Action::Invite,
        Action::ManageMembers,
        Action::ManageOwners,
        Action::Leave,
        Action::Transfer,
        Action::DeleteOrg,
        Action::ViewUsage,
        Action::ViewBilling,
        Action::ManageBilling,
    ];

    /// Every role against every action, own resource and someone
    /// else's: exactly the table's answer.
    #[test]
    fn every_role_gets_exactly_the_tables_answer() {
        assert_eq!(TABLE.len(), ACTIONS.len(), "every action has one row");
        for action in ACTIONS {
            let row = TABLE.iter().filter(|(a, _)| *a == action).count();
            assert_eq!(row, 1, "{action:?} has exactly one row");
        }
        for (action, cells) in TABLE {
            for (who, expected) in Who::ALL.into_iter().zip(cells) {
                let (mine, theirs) = match expected {
                    Yes => (true, true),
                    Own => (true, false),
                    No => (false, false),
                };
                assert_eq!(allows(who, *action, true), mine, "{who:?} {action:?} own");
                assert_eq!(
                    allows(who, *action, false),
                    theirs,
                    "{who:?} {action:?} other's"
                );
            }
        }
    }

    /// Sanity of the table itself: more power never loses a right, and
    /// outsiders only read.
    #[test]
    fn rights_grow_with_the_role() {
        for (action, cells) in TABLE {
            let rank = |c: &Cell| match c {
                No => 0,
                Own => 1,
                Yes => 2,
            };
            for pair in cells.windows(2).skip(1) {
                assert!(rank(&pair[0]) <= rank(&pair[1]), "{action:?}: {cells:?}");
            }
            if !matches!(action, Action::Read | Action::ViewOrg) {
                assert_eq!(cells[0], No, "{action:?}: outsiders only read");
            }
        }
    }

    /// docs/BLOG.md prints the same table.
    #[test]
    fn the_docs_show_this_table() {
        let docs = include_str!("../../../docs/BLOG.md");
        for (action, cells) in TABLE {
            let marks: Vec<&str> = cells
                .iter()
                .map(|c| match c {
                    Yes => "yes",
                    Own => "own",
                    No => "no",
                })
                .collect();
            let row = format!("| `{action:?}` | {} |", marks.join(" | "));
            assert!(docs.contains(&row), "docs/BLOG.md lacks the row {row}");
        }
    }
}
