//! Tic-tac-toe: a 3x3 board, `X` moves first, three in a row wins, a full
//! board is a draw. Moves name a cell as in chess: column `a`-`c`, row
//! `1`-`3` from the bottom (`b2` is the centre).

use super::rules::{Outcome, Rules};

/// The position.
#[derive(Debug, Clone, Default)]
pub struct TicTacToe {
    /// Cells by index `row * 3 + col`, row 0 at the bottom.
    cells: [Option<usize>; 9],
    moves: usize,
}

/// Every winning line, as cell indices.
pub const LINES: [[usize; 3]; 8] = [
    [0, 1, 2],
    [3, 4, 5],
    [6, 7, 8],
    [0, 3, 6],
    [1, 4, 7],
    [2, 5, 8],
    [0, 4, 8],
    [2, 4, 6],
];

fn name(cell: usize) -> String {
    format!("{}{}", (b'a' + (cell % 3) as u8) as char, cell / 3 + 1)
}

fn parse(mv: &str) -> Option<usize> {
    let b = mv.trim().as_bytes();
    if b.len() != 2 {
        return None;
    }
    let col = b[0].to_ascii_lowercase().checked_sub(b'a')? as usize;
    let row = b[1].checked_sub(b'1')? as usize;
    (col < 3 && row < 3).then_some(row * 3 + col)
}

impl Rules for TicTacToe {
    fn kind(&self) -> &'static str {
        "tictactoe"
    }

    fn turn(&self) -> usize {
        self.moves % 2
    }

    fn legal_moves(&self) -> Vec<String> {
        if self.outcome().is_some() {
            return Vec::new();
        }
        (0..9)
            .filter(|c| self.cells[*c].is_none())
            .map(name)
            .collect()
    }

    fn play(&mut self, mv: &str) -> Result<(), String> {
        if self.outcome().is_some() {
            return Err("the game is over".into());
        }
        let cell = parse(mv)
            .ok_or_else(|| format!("{mv:?} is not a cell: a column a-c and a row 1-3, e.g. b2"))?;
        if self.cells[cell].is_some() {
            return Err(format!("{} is taken", name(cell)));
        }
        self.cells[cell] = Some(self.turn());
        self.moves += 1;
        Ok(())
    }

    fn outcome(&self) -> Option<Outcome> {
        for line in LINES {
            if let [Some(a), Some(b), Some(c)] = line.map(|i| self.cells[i])
                && a == b
                && b == c
            {
                return Some(Outcome::Win(a));
            }
        }
        (self.moves == 9).then_some(Outcome::Draw)
    }

    fn board(&self) -> Vec<String> {
        (0..3)
            .rev()
            .map(|row| {
                (0..3)
                    .map(|col| match self.cells[row * 3 + col] {
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

    fn play(moves: &[&str]) -> TicTacToe {
        let mut g = TicTacToe::default();
        for m in moves {
            g.play(m).unwrap();
        }
        g
    }

    #[test]
    fn every_winning_line_wins_for_either_player() {
        for line in LINES {
            for winner in 0..2 {
                let mut g = TicTacToe::default();
                let mut mine = line.iter().copied();
                while g.outcome().is_none() {
                    let cell = if g.turn() == winner {
                        mine.next().unwrap()
                    } else {
                        // The loser plays off the line, never completing
                        // a line of its own.
                        (0..9)
                            .filter(|c| !line.contains(c) && g.cells[*c].is_none())
                            .find(|c| {
                                let mut next = g.clone();
                                next.play(&name(*c)).unwrap();
                                next.outcome().is_none()
                            })
                            .unwrap()
                    };
                    g.play(&name(cell)).unwrap();
                }
                assert_eq!(g.outcome(), Some(Outcome::Win(winner)), "{line:?} {winner}");
                assert!(g.legal_moves().is_empty());
            }
        }
    }

    #[test]
    fn a_full_board_without_a_line_is_a_draw() {
        let g = play(&["a1", "b1", "c1", "b2", "a2", "a3", "b3", "c2", "c3"]);
        assert_eq!(g.outcome(), Some(Outcome::Draw));
        assert_eq!(g.board(), ["OXX", "XOO", "XOX"]);
    }

    #[test]
    fn illegal_moves_are_refused_and_change_nothing() {
        let mut g = play(&["b2"]);
        let before = g.board();
        assert!(g.play("b2").unwrap_err().contains("taken"));
        assert!(g.play("d1").unwrap_err().contains("not a cell"));
        assert!(g.play("a0").is_err());
        assert!(g.play("").is_err());
        assert!(g.play("a11").is_err());
        assert!(g.play("é1").is_err());
        assert_eq!(g.board(), before);
        assert_eq!(g.turn(), 1);
        assert_eq!(g.legal_moves().len(), 8);
        let mut won = play(&["a1", "a2", "b1", "b2", "c1"]);
        assert!(won.play("c3").unwrap_err().contains("over"));
    }

    #[test]
    fn moves_use_chess_coordinates() {
        let g = play(&["a1", "C3"]);
        assert_eq!(g.board(), ["..O", "...", "X.."]);
    }
}
