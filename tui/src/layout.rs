//! The screen's geometry: a tab bar (top line), the current tab's body in
//! a border, and a status bar (bottom line). Pure arithmetic on `Rect`s,
//! shared by the drawing (`ui`) and the state (tabs size their views from
//! it), so neither has to ask the other.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::widgets::Block;

/// The narrowest screen the layout works on: the Chat tab keeps its room
/// list (40 cells of body) and the Cache tab its key list beside a value,
/// the status bar its address, user and state.
pub(crate) const MIN_WIDTH: u16 = 60;

/// The shortest screen the layout works on: tab bar, status bar, the
/// body's border, and room in the Chat tab for a dozen message lines, a
/// status line and the input line.
pub(crate) const MIN_HEIGHT: u16 = 16;

/// Whether a screen of `area` is big enough for the layout; smaller ones
/// get a "terminal too small" message instead.
pub(crate) fn fits(area: Rect) -> bool {
    area.width >= MIN_WIDTH && area.height >= MIN_HEIGHT
}

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

/// The brand at the left of the tab bar.
pub(crate) const BRAND: &str = " agora ";

/// The tab whose title is drawn at column `x` of the tab bar, given the
/// titles as drawn (`"1 Chat"`…): ratatui's `Tabs` pads each title with a
/// space on both sides and puts a one-cell divider between them.
pub(crate) fn tab_at<'a>(x: u16, titles: impl IntoIterator<Item = &'a str>) -> Option<usize> {
    let mut left = BRAND.len() as u16;
    for (i, title) in titles.into_iter().enumerate() {
        let width = title.chars().count() as u16 + 2;
        if (left..left + width).contains(&x) {
            return Some(i);
        }
        left += width + 1;
    }
    None
}
