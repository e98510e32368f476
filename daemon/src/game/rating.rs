//! Glicko-2 ratings, through the `skillratings` crate (maintained, MIT or
//! Apache-2.0, no dependencies; the `glicko2` crate is older and covers
//! less). Each game is its own rating period, as on lichess, with
//! Glickman's τ = 0.5.

use agora_db::games::Rating;
use skillratings::Outcomes;
use skillratings::glicko2::{Glicko2Config, Glicko2Rating, glicko2};

fn to_lib(r: Rating) -> Glicko2Rating {
    Glicko2Rating {
        rating: r.rating,
        deviation: r.deviation,
        volatility: r.volatility,
    }
}

fn from_lib(r: Glicko2Rating) -> Rating {
    Rating {
        rating: r.rating,
        deviation: r.deviation,
        volatility: r.volatility,
    }
}

/// Both players' ratings after one game; `first_score` is the first
/// player's score (1 win, 0.5 draw, 0 loss).
pub fn rate(first: Rating, second: Rating, first_score: f64) -> (Rating, Rating) {
    let outcome = if first_score > 0.75 {
        Outcomes::WIN
    } else if first_score < 0.25 {
        Outcomes::LOSS
    } else {
        Outcomes::DRAW
    };
    let (a, b) = glicko2(&to_lib(first), &to_lib(second), &outcome, &config());
    (from_lib(a), from_lib(b))
}

fn config() -> Glicko2Config {
    Glicko2Config {
        tau: 0.5,
        ..Glicko2Config::new()
    }
}

#[cfg(test)]
mod tests {
    use skillratings::glicko2::glicko2_rating_period;

    use super::*;

    fn r(rating: f64, deviation: f64) -> Glicko2Rating {
        Glicko2Rating {
            rating,
            deviation,
            volatility: 0.06,
        }
    }

    /// Glickman, "Example of the Glicko-2 system" (2013), section 3: a
    /// player rated 1500 (RD 200, σ 0.06) beats a 1400 (RD 30), loses to
    /// a 1550 (RD 100) and to a 1700 (RD 300) in one rating period, and
    /// ends at 1464.06, RD 151.52, σ 0.05999.
    #[test]
    fn glickmans_worked_example() {
        let player = r(1500.0, 200.0);
        let results = [
            (r(1400.0, 30.0), Outcomes::WIN),
            (r(1550.0, 100.0), Outcomes::LOSS),
            (r(1700.0, 300.0), Outcomes::LOSS),
        ];
        let after = glicko2_rating_period(&player, &results, &config());
        assert!((after.rating - 1464.06).abs() < 0.01, "{}", after.rating);
        assert!(
            (after.deviation - 151.52).abs() < 0.01,
            "{}",
            after.deviation
        );
        assert!(
            (after.volatility - 0.05999).abs() < 0.00001,
            "{}",
            after.volatility
        );
    }

    #[test]
    fn one_game_moves_both_players_the_right_way() {
        let new = Rating::default();
        let (w, l) = rate(new, new, 1.0);
        assert!(w.rating > 1500.0 && l.rating < 1500.0);
        assert!(
            (w.rating - 1500.0 + l.rating - 1500.0).abs() < 1e-6,
            "symmetric"
        );
        assert!(w.deviation < 350.0);
        let (a, b) = rate(new, new, 0.5);
        assert!((a.rating - 1500.0).abs() < 1e-9 && (b.rating - 1500.0).abs() < 1e-9);
        let (l2, w2) = rate(new, new, 0.0);
        assert_eq!((l2.rating, w2.rating), (l.rating, w.rating));
    }
}
