//! Where the Games tab puts things on screen: the split between body and
//! status line, the board screen's parts and the board's cells. Shared by
//! the drawing (`view`) and the mouse (`GamesState::handle_mouse`), so a
//! click lands on the cell that was drawn there.

use ratatui::layout::{Constraint, Layout, Position, Rect};

/// Cells taken by a board row's label (` 3 ` or blanks) before its cells.
pub const LABEL_WIDTH: u16 = 3;
/// Cells taken by one board cell (` X `, `[X]`, `<X>`).
pub const CELL_WIDTH: u16 = 3;

/// The tab's body and its status line (hints, messages, the prompt).
pub fn split(area: Rect) -> [Rect; 2] {
    Layout::vertical([Constraint::Fill(1), Constraint::Length(1)]).areas(area)
}

/// The board screen's parts, in a body of `body`.
pub struct BoardScreen {
    /// The game's header line.
    pub head: Rect,
    /// One line per player: clock, connection, rating change.
    pub players: Rect,
    /// The board: a line of column labels, then a line per row.
    pub board: Rect,
    /// The move list.
    pub moves: Rect,
}

/// Lays out the board screen in `body`.
pub fn board_screen(body: Rect) -> BoardScreen {
    let [head, players, _, rest] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(2),
        Constraint::Length(1),
        Constraint::Fill(1),
    ])
    .areas(body);
    let [board, moves] =
        Layout::horizontal([Constraint::Length(26), Constraint::Fill(1)]).areas(rest);
    BoardScreen {
        head,
        players,
        board,
        moves,
    }
}

/// The cell (row from the top, column) drawn at `pos` on a board of
/// `rows` x `cols` drawn into `board`; `None` off the cells (labels,
/// margins, outside).
pub fn cell_at(board: Rect, rows: usize, cols: usize, pos: Position) -> Option<(usize, usize)> {
    if !board.contains(pos) {
        return None;
    }
    // The first line holds the column labels.
    let row = usize::from(pos.y - board.y).checked_sub(1)?;
    let col = usize::from((pos.x - board.x).checked_sub(LABEL_WIDTH)? / CELL_WIDTH);
    (row < rows && col < cols).then_some((row, col))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_labels_and_margins() {
        let board = Rect::new(10, 5, 26, 8);
        let at = |x, y| cell_at(board, 3, 3, Position::new(x, y));
        assert_eq!(at(13, 6), Some((0, 0)));
        assert_eq!(at(15, 6), Some((0, 0)));
        assert_eq!(at(16, 6), Some((0, 1)));
        assert_eq!(at(21, 8), Some((2, 2)));
        // The label line, the row labels, past the last row or column.
        assert_eq!(at(13, 5), None);
        assert_eq!(at(12, 6), None);
        assert_eq!(at(13, 9), None);
        assert_eq!(at(22, 6), None);
        assert_eq!(at(0, 0), None);
    }
}
