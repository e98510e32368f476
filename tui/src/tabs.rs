//! The one list of tabs, in tab-bar order.
//!
//! A new tab is a module of its own implementing [`Tab`], a variant of
//! [`TabId`] and an arm in [`TabId::make`] (the compiler points at it: the
//! match is exhaustive). Nothing else in the TUI names a tab.

use crate::cache::CacheState;
use crate::chat::ChatState;
use crate::dashboard::DashboardState;
use crate::games::GamesState;
use crate::jobs::JobsState;
use crate::tab::Tab;

/// The tabs, in the order the tab bar shows them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum TabId {
    /// Rooms and messages.
    #[default]
    Chat,
    /// Daemon metrics.
    Dashboard,
    /// Game lobbies and matches.
    Games,
    /// The background job queue.
    Jobs,
    /// The key-value cache.
    Cache,
}

impl TabId {
    /// Every tab, in tab-bar order; `ALL[i]` is reached with key `i + 1`.
    pub const ALL: [TabId; 5] = [
        TabId::Chat,
        TabId::Dashboard,
        TabId::Games,
        TabId::Jobs,
        TabId::Cache,
    ];

    /// The tab's position in [`TabId::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }

    /// The next tab, wrapping from the last to the first.
    pub fn next(self) -> TabId {
        TabId::ALL[(self.index() + 1) % TabId::ALL.len()]
    }

    /// The previous tab, wrapping from the first to the last.
    pub fn previous(self) -> TabId {
        TabId::ALL[(self.index() + TabId::ALL.len() - 1) % TabId::ALL.len()]
    }

    /// The tab reached with a number key: `'1'` is the first.
    pub fn from_digit(c: char) -> Option<TabId> {
        let n = c.to_digit(10)? as usize;
        n.checked_sub(1).and_then(|i| TabId::ALL.get(i)).copied()
    }

    /// A fresh state for this tab, for a session believed to be `user`.
    pub(crate) fn make(self, user: Option<&str>) -> Box<dyn Tab> {
        match self {
            TabId::Chat => Box::new(ChatState::new(user.map(str::to_owned))),
            TabId::Dashboard => Box::new(DashboardState::new()),
            TabId::Games => Box::new(GamesState::new(user.map(str::to_owned))),
            TabId::Jobs => Box::new(JobsState::new()),
            TabId::Cache => Box::new(CacheState::new()),
        }
    }
}

/// Every tab's fresh state, in [`TabId::ALL`] order.
pub(crate) fn all(user: Option<&str>) -> Vec<Box<dyn Tab>> {
    TabId::ALL.iter().map(|id| id.make(user)).collect()
}
