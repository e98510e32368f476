//! The one trait every game's rules implement, and the list of games.
//!
//! A game is a small synchronous module with no networking, no clock and
//! no storage: a position, the legal moves in its own notation, applying
//! one, and the outcome. The [`super::machine`] around it does turns,
//! clocks, resignations and draws; the actor does the rest. The list of
//! games is [`super::new_game`].

/// How a position ended on the board.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The player with this index (0 moves first) won.
    Win(usize),
    /// Nobody can win any more (a full board).
    Draw,
}

/// Who looks at a board: a player sees their own view, spectators the
/// public one. Every game shipped so far has perfect information, so the
/// views are equal; a game with hidden information overrides
/// [`Rules::view`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Viewer {
    /// The player with this index.
    Player(usize),
    /// Anyone else.
    Spectator,
}

/// A game's rules over its position. Object-safe, so the machine holds a
/// `Box<dyn Rules>` whatever the game.
pub trait Rules: Send + std::fmt::Debug {
    /// The game type's wire name (`tictactoe`).
    fn kind(&self) -> &'static str;

    /// Whose turn it is (0 or 1).
    fn turn(&self) -> usize;

    /// Every legal move of the player to move, in the game's notation;
    /// empty once the game is over.
    fn legal_moves(&self) -> Vec<String>;

    /// Plays `mv` for the player to move.
    ///
    /// # Errors
    /// A sentence saying why the move is not legal (nothing changes).
    fn play(&mut self, mv: &str) -> Result<(), String>;

    /// The outcome, once the position is final.
    fn outcome(&self) -> Option<Outcome>;

    /// The board as rows of characters, top row first, `.` empty.
    fn board(&self) -> Vec<String>;

    /// The board as `viewer` may see it.
    fn view(&self, _viewer: Viewer) -> Vec<String> {
        self.board()
    }

    /// Whether players may agree a draw.
    fn draws_allowed(&self) -> bool {
        true
    }
}
