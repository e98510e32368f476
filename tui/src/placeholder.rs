//! A tab whose service has not arrived yet: it says so.

use std::any::Any;

use agora_wire::{Event, Reply, Service};
use crossterm::event::KeyEvent;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Text};
use ratatui::widgets::{Paragraph, Widget, Wrap};

use crate::tab::{KeyOutcome, Outgoing, Tab};

/// A tab waiting for its service. See the module docs.
#[derive(Debug, Clone)]
pub struct Placeholder {
    title: &'static str,
    service: &'static str,
}

impl Placeholder {
    /// A placeholder for `title`, waiting for `service` (as users know it,
    /// e.g. "game service").
    pub fn new(title: &'static str, service: &'static str) -> Placeholder {
        Placeholder { title, service }
    }

    /// What the tab says until its service exists.
    pub fn message(&self) -> String {
        format!(
            "{} is not available yet: the {} arrives in a later release.",
            self.title, self.service
        )
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
        None
    }

    fn handle_key(&mut self, _key: KeyEvent) -> KeyOutcome {
        KeyOutcome::NotConsumed
    }

    fn on_connected(&mut self, _user: Option<&str>) {}

    fn on_disconnected(&mut self) {}

    fn on_push(&mut self, _event: Event) {}

    fn on_reply(&mut self, _tag: u64, _result: Result<Reply, String>) {}

    fn take_outbox(&mut self) -> Vec<Outgoing> {
        Vec::new()
    }

    fn render(&self, area: Rect, buf: &mut Buffer) {
        let lines = vec![Line::default(), Line::from(self.message())];
        Paragraph::new(Text::from(lines))
            .wrap(Wrap { trim: true })
            .centered()
            .render(area, buf);
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}
