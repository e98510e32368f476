//! A tab whose service has not arrived yet: it says so, and (for the
//! Dashboard) lists the sessions opening and closing on the daemon, from
//! the `sessions` topic, until the metrics service replaces it.

use std::any::Any;
use std::collections::VecDeque;

use agora_wire::{BaseEvent, Event, Reply, Service, SessionInfo};
use crossterm::event::KeyEvent;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Stylize};
use ratatui::text::{Line, Text};
use ratatui::widgets::{Paragraph, Widget, Wrap};

use crate::tab::{KeyOutcome, Outgoing, Tab};

/// How many session events the placeholder remembers.
pub const RECENT_SESSIONS: usize = 5;

/// A tab waiting for its service. See the module docs.
#[derive(Debug, Clone)]
pub struct Placeholder {
    title: &'static str,
    service: &'static str,
    /// Session events seen on topic `sessions`, newest last; `None` when
    /// this placeholder does not show them.
    sessions: Option<VecDeque<String>>,
}

impl Placeholder {
    /// A placeholder for `title`, waiting for `service` (as users know it,
    /// e.g. "game service").
    pub fn new(title: &'static str, service: &'static str) -> Placeholder {
        Placeholder {
            title,
            service,
            sessions: None,
        }
    }

    /// A placeholder that also lists recent sessions.
    pub fn sessions(title: &'static str, service: &'static str) -> Placeholder {
        Placeholder {
            sessions: Some(VecDeque::new()),
            ..Placeholder::new(title, service)
        }
    }

    /// What the tab says until its service exists.
    pub fn message(&self) -> String {
        format!(
            "{} is not available yet: the {} arrives in a later release.",
            self.title, self.service
        )
    }

    /// Recent session openings and closings, oldest first.
    #[cfg(test)]
    pub fn recent_sessions(&self) -> impl Iterator<Item = &str> {
        self.sessions.iter().flatten().map(String::as_str)
    }
}

impl Tab for Placeholder {
    fn title(&self) -> &'static str {
        self.title
    }

    fn keys(&self) -> &'static [(&'static str, &'static str)] {
        &[]
    }

    fn follows(&self) -> Option<Service> {
        self.sessions.is_some().then_some(Service::Base)
    }

    fn handle_key(&mut self, _key: KeyEvent) -> KeyOutcome {
        KeyOutcome::NotConsumed
    }

    fn on_connected(&mut self, _user: Option<&str>) {}

    fn on_disconnected(&mut self) {}

    fn on_push(&mut self, event: Event) {
        let Some(sessions) = &mut self.sessions else {
            return;
        };
        let note = match event {
            Event::Base(BaseEvent::SessionOpened { session }) => {
                format!("opened  {}", describe(&session))
            }
            Event::Base(BaseEvent::SessionClosed { session }) => {
                format!("closed  {}", describe(&session))
            }
            other => {
                tracing::debug!(event = other.name(), "placeholder ignores event");
                return;
            }
        };
        if sessions.len() == RECENT_SESSIONS {
            sessions.pop_front();
        }
        sessions.push_back(note);
    }

    fn on_reply(&mut self, _tag: u64, _result: Result<Reply, String>) {}

    fn take_outbox(&mut self) -> Vec<Outgoing> {
        Vec::new()
    }

    fn render(&self, area: Rect, buf: &mut Buffer) {
        let mut lines = vec![Line::default(), Line::from(self.message())];
        if let Some(sessions) = &self.sessions {
            lines.push(Line::default());
            lines.push(Line::from("Recent sessions").bold());
            let before = lines.len();
            lines.extend(sessions.iter().map(|s| Line::from(s.clone())));
            if lines.len() == before {
                lines.push(Line::from("none seen since connecting").fg(Color::DarkGray));
            }
        }
        Paragraph::new(Text::from(lines))
            .wrap(Wrap { trim: true })
            .centered()
            .render(area, buf);
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// One line about a session: `#12 alice (agora-cli/0.1.0)`.
fn describe(session: &SessionInfo) -> String {
    let user = session.user.as_deref().unwrap_or("anonymous");
    format!("#{} {user} ({})", session.id, session.client)
}
