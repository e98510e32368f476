//! Where each part of the Chat tab goes: pure geometry from the tab's
//! area, shared by the state (how many message lines fit) and the drawing.
//!
//! The room list on the left, the topic line and the messages in the
//! centre, the members on the right (hidden when the body is narrower than
//! 70 cells), then a status line and the input line across the bottom.

use ratatui::layout::{Constraint, Layout, Margin, Rect};

/// Width of the room list and of the member list, borders included.
const SIDE: u16 = 15;

/// Where each part of the tab goes.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Areas {
    pub(crate) rooms: Option<Rect>,
    pub(crate) topic: Rect,
    pub(crate) messages: Rect,
    pub(crate) members: Option<Rect>,
    pub(crate) status: Rect,
    pub(crate) input: Rect,
}

/// Splits the tab body's inner area.
pub(crate) fn areas(inner: Rect) -> Areas {
    let [main, status, input] = Layout::vertical([
        Constraint::Fill(1),
        Constraint::Length(1),
        Constraint::Length(1),
    ])
    .areas(inner);
    let rooms_width = if main.width >= 40 { SIDE } else { 0 };
    let members_width = if main.width >= 70 { SIDE } else { 0 };
    let [rooms, centre, members] = Layout::horizontal([
        Constraint::Length(rooms_width),
        Constraint::Fill(1),
        Constraint::Length(members_width),
    ])
    .areas(main);
    let centre = centre.inner(Margin::new(1, 0));
    let [topic, messages] =
        Layout::vertical([Constraint::Length(1), Constraint::Fill(1)]).areas(centre);
    Areas {
        rooms: (rooms_width > 0).then_some(rooms),
        topic,
        messages,
        members: (members_width > 0).then_some(members),
        status,
        input,
    }
}

/// The messages area's (width, height) when the tab draws into `area`.
pub(crate) fn viewport(area: Rect) -> (u16, u16) {
    let a = areas(area);
    (a.messages.width, a.messages.height)
}
