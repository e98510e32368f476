//! The Cache tab's cluster view: when the daemon is one node of a
//! cluster (`agora daemon --cluster`), a panel listing every node — its
//! state, RESP address, keys, share of the 16,384 slots and replication
//! lag — from `cache_cluster_status`, asked with INFO every second. A
//! standalone daemon shows no panel.

use agora_wire::ClusterNode;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Widget};

/// Hash slots in a cluster.
const SLOTS: u64 = 16_384;

/// Node rows shown at most (the panel says how many more there are).
pub const MAX_ROWS: usize = 5;

/// What the tab knows of the cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterView {
    /// Its name.
    pub name: String,
    /// `redirect` or `proxy`.
    pub mode: String,
    /// Every node, sorted by id.
    pub nodes: Vec<ClusterNode>,
}

impl ClusterView {
    /// The view from a `cache_cluster` reply; `None` for a standalone
    /// daemon (no cluster name).
    pub fn from_reply(
        cluster: Option<String>,
        mode: String,
        nodes: Vec<ClusterNode>,
    ) -> Option<Self> {
        Some(ClusterView {
            name: cluster?,
            mode,
            nodes,
        })
    }

    /// The panel's height, borders included.
    pub fn height(&self) -> u16 {
        let rows = self.nodes.len().min(MAX_ROWS) + usize::from(self.nodes.len() > MAX_ROWS);
        rows as u16 + 3
    }

    fn count(&self, state: &str) -> usize {
        self.nodes.iter().filter(|n| n.state == state).count()
    }
}

fn dim() -> Style {
    Style::new().fg(Color::DarkGray)
}

fn state_style(state: &str) -> Style {
    match state {
        "alive" => Style::new().fg(Color::Green),
        "suspect" => Style::new().fg(Color::Yellow),
        // Shutting down cleanly, handing its keys over.
        "leaving" => Style::new().fg(Color::Cyan),
        // Gone after a clean leave.
        "left" => dim(),
        _ => Style::new().fg(Color::Red).add_modifier(Modifier::BOLD),
    }
}

/// Left-aligned in `width` cells, cut to fit.
fn cell(text: &str, width: usize) -> String {
    let cut: String = text.chars().take(width).collect();
    format!("{cut:<width$} ")
}

impl Widget for &ClusterView {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let title = format!(
            " Cluster {} ({}) · {} alive, {} suspect, {} dead ",
            self.name,
            self.mode,
            self.count("alive"),
            self.count("suspect"),
            self.count("dead")
        );
        let block = Block::bordered().border_style(dim()).title(title);
        let inner = block.inner(area);
        block.render(area, buf);
        // NODE STATE RESP KEYS SLOTS LAG, the address column shrinking
        // first on narrow screens.
        let widths = [12usize, 7, 21, 9, 15];
        let mut lines = vec![Line::styled(
            format!(
                "{}{}{}{}{}{}",
                cell("NODE", widths[0]),
                cell("STATE", widths[1]),
                cell("RESP", widths[2]),
                cell("KEYS", widths[3]),
                cell("SLOTS", widths[4]),
                "LAG"
            ),
            dim(),
        )];
        for n in self.nodes.iter().take(MAX_ROWS) {
            let id = if n.myself {
                format!("{} *", n.id)
            } else {
                n.id.clone()
            };
            let share = n.slots as f64 * 100.0 / SLOTS as f64;
            let keys = n.keys.map_or("-".to_owned(), |k| k.to_string());
            lines.push(Line::from(vec![
                Span::raw(cell(&id, widths[0])),
                Span::styled(cell(&n.state, widths[1]), state_style(&n.state)),
                Span::raw(cell(n.resp.as_deref().unwrap_or("-"), widths[2])),
                Span::raw(cell(&keys, widths[3])),
                Span::raw(cell(&format!("{} {share:.1}%", n.slots), widths[4])),
                Span::raw(n.lag.clone().unwrap_or_else(|| "-".into())),
            ]));
        }
        if self.nodes.len() > MAX_ROWS {
            lines.push(Line::styled(
                format!(
                    "… {} more (agora cluster status)",
                    self.nodes.len() - MAX_ROWS
                ),
                dim(),
            ));
        }
        Paragraph::new(lines).render(inner, buf);
    }
}
