//! Connect four: 7 columns of 6 cells, pieces drop to the lowest free
//! cell, `X` moves first, four in a row (across, up or diagonal) wins, a
//! full board is a draw. A move names a column, `1`-`7` from the left.

use std::sync::LazyLock;

use super::rules::{Outcome, Rules};

/// [`lines`], computed once.
static LINES: LazyLock<Vec<[(usize, usize); 4]>> = LazyLock::new(lines);

/// Columns.
pub const COLS: usize = 7;
/// Rows.
pub const ROWS: usize = 6;

/// The position.
#[derive(Debug, Clone, Default)]
pub struct ConnectFour {
    /// Cells by `[row][col]`, row 0 at the bottom.
    cells: [[Option<usize>; COLS]; ROWS],
    moves: usize,
}

/// Every line of four, as `(row, col)` cells.
pub fn lines() -> Vec<[(usize, usize); 4]> {
    let mut lines = Vec::new();
    let steps: [(isize, isize); 4] = [(0, 1), (1, 0), (1, 1), (1, -1)];
    for r in 0..ROWS as isize {
        for c in 0..COLS as isize {
            for (dr, dc) in steps {
                let cells = [0, 1, 2, 3].map(|i| (r + dr * i, c + dc * i));
                if cells
                    .iter()
                    .all(|(r, c)| (0..ROWS as isize).contains(r) && (0..COLS as isize).contains(c))
                {
                    lines.push(cells.map(|(r, c)| (r as usize, c as usize)));
                }
            }
        }
    }
    lines
}

impl ConnectFour {
    fn column(mv: &str) -> Option<usize> {
        let col = mv.trim().parse::<usize>().ok()?;
        (1..=COLS).contains(&col).then(|| col - 1)
    }

    fn height(&self, col: usize) -> usize {
        (0..ROWS)
            .take_while(|r| self.cells[*r][col].is_some())
            .count()
    }
}

impl Rules for ConnectFour {
    fn kind(&self) -> &'static str {
        "connect4"
    }

    fn turn(&self) -> usize {
        self.moves % 2
    }

    fn legal_moves(&self) -> Vec<String> {
        if self.outcome().is_some() {
            return Vec::new();
        }
        (0..COLS)
            .filter(|c| self.height(*c) < ROWS)
            .map(|c| (c + 1).to_string())
            .collect()
    }

    fn play(&mut self, mv: &str) -> Result<(), String> {
        if self.outcome().is_some() {
            return Err("the game is over".into());
        }
        let col = Self::column(mv).ok_or_else(|| format!("{mv:?} is not a column: 1-{COLS}"))?;
        let row = self.height(col);
        if row == ROWS {
            return Err(format!("column {} is full", col + 1));
        }
        self.cells[row][col] = Some(self.turn());
        self.moves += 1;
        Ok(())
    }

    fn outcome(&self) -> Option<Outcome> {
        for line in LINES.iter() {
            if let [Some(a), Some(b), Some(c), Some(d)] = line.map(|(r, c)| self.cells[r][c])
                && a == b
                && b == c
                && c == d
            {
                return Some(Outcome::Win(a));
            }
        }
        (self.moves == ROWS * COLS).then_some(Outcome::Draw)
    }

    fn board(&self) -> Vec<String> {
        (0..ROWS)
            .rev()
            .map(|r| {
                self.cells[r]
                    .iter()
                    .map(|c| match c {
                        Some(0) => 'X',
                        Some(_) => 'O',
                        None => '.',
                    })
                    .collect()
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn there_are_69_lines_and_each_wins() {
        let lines = lines();
        assert_eq!(lines.len(), 69);
        for line in lines {
            for player in 0..2 {
                let mut g = ConnectFour::default();
                for (r, c) in line {
                    g.cells[r][c] = Some(player);
                }
                g.moves = 4;
                assert_eq!(g.outcome(), Some(Outcome::Win(player)), "{line:?}");
                assert!(g.legal_moves().is_empty());
            }
        }
    }

    #[test]
    fn pieces_drop_and_four_across_wins_by_play() {
        let mut g = ConnectFour::default();
        for mv in ["1", "1", "2", "2", "3", "3"] {
            g.play(mv).unwrap();
        }
        assert_eq!(g.outcome(), None);
        g.play("4").unwrap();
        assert_eq!(g.outcome(), Some(Outcome::Win(0)));
        assert_eq!(g.board()[5], "XXXX...");
        assert_eq!(g.board()[4], "OOO....");
    }

    #[test]
    fn a_full_board_without_four_is_a_draw() {
        let mut g = ConnectFour::default();
        for r in 0..ROWS {
            for c in 0..COLS {
                g.cells[r][c] = Some(usize::from(c % 4 >= 2) ^ (r % 2));
            }
        }
        g.moves = ROWS * COLS;
        assert_eq!(g.outcome(), Some(Outcome::Draw));
        assert!(g.legal_moves().is_empty());
    }

    #[test]
    fn illegal_moves_are_refused_and_change_nothing() {
        let mut g = ConnectFour::default();
        for _ in 0..ROWS {
            g.play("4").unwrap();
        }
        let before = g.board();
        assert!(g.play("4").unwrap_err().contains("full"));
        for bad in ["0", "8", "x", "", "-1", "99999999999999999999999"] {
            assert!(g.play(bad).unwrap_err().contains("not a column"), "{bad}");
        }
        assert_eq!(g.board(), before);
        assert_eq!(g.legal_moves(), ["1", "2", "3", "5", "6", "7"]);
    }
}
