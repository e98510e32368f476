//! The screen's geometry: a tab bar (top line), the current tab's body in
//! a border, and a status bar (bottom line). Pure arithmetic on `Rect`s,
//! shared by the drawing (`ui`) and the state (tabs size their views from
//! it), so neither has to ask the other.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::widgets::Block;

/// The three rows of the screen: tab bar, body, status bar.
pub(crate) fn rows(area: Rect) -> [Rect; 3] {
    Layout::vertical([
        Constraint::Length(1),
        Constraint::Fill(1),
        Constraint::Length(1),
    ])
    .areas(area)
}

/// The body's area inside its border, on a screen of `area`: what a tab
/// draws into.
pub(crate) fn body_inner(area: Rect) -> Rect {
    Block::bordered().inner(rows(area)[1])
}

/// The body's inner area on a `width` x `height` screen.
pub(crate) fn tab_area(width: u16, height: u16) -> Rect {
    body_inner(Rect::new(0, 0, width, height))
}
