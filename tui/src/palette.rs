//! Colour depth: what the terminal can show, and a drawn screen made to
//! fit it.
//!
//! The views draw with the 16 basic ANSI colours only (plus bold and
//! reverse). [`Palette::detect`] decides at start-up what the terminal can
//! take: all 16, the 8 basic ones (`TERM=xterm`, `screen`, `linux`: the
//! bright colours are folded onto them), or none (`TERM=dumb`,
//! `--color never`, `NO_COLOR`). [`Palette::apply`] then rewrites the
//! colours of a drawn buffer, after the views and before the terminal sees
//! it, so state and views stay the same, and testable, whatever the
//! terminal. Pure: the environment comes in as arguments.

use ratatui::buffer::Buffer;
use ratatui::style::Color;

/// The colours a screen may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Palette {
    /// The 16 basic ANSI colours, as drawn.
    #[default]
    Sixteen,
    /// The 8 basic colours: the bright ones (`LightRed`…, `White`) become
    /// their plain counterparts, `DarkGray` the terminal's own colour.
    Eight,
    /// No colour at all; bold, reverse and the rest stay.
    Monochrome,
}

impl Palette {
    /// The palette for a terminal: `color` is the `--color`/`NO_COLOR`
    /// decision, `term` the `TERM` variable, `colours` what crossterm's
    /// `available_color_count` says (from `COLORTERM` and `TERM`: 8 unless
    /// they mention 256 colours or true colour).
    pub fn detect(color: bool, term: Option<&str>, colours: u16) -> Palette {
        let term = term.unwrap_or_default();
        if !color || term == "dumb" {
            Palette::Monochrome
        } else if colours >= 16 || term.contains("16color") {
            Palette::Sixteen
        } else {
            Palette::Eight
        }
    }

    /// Rewrites the colours of a drawn screen to fit the palette.
    pub fn apply(self, buf: &mut Buffer) {
        let map: fn(Color, Layer) -> Color = match self {
            Palette::Sixteen => return,
            Palette::Eight => eight,
            Palette::Monochrome => |_, _| Color::Reset,
        };
        for cell in buf.content.iter_mut() {
            cell.fg = map(cell.fg, Layer::Fg);
            cell.bg = map(cell.bg, Layer::Bg);
        }
    }

    /// Whether the palette may use `colour` (in the foreground or the
    /// background).
    #[cfg(test)]
    pub fn allows(self, colour: Color) -> bool {
        match self {
            Palette::Sixteen => !matches!(colour, Color::Rgb(..) | Color::Indexed(_)),
            Palette::Eight => matches!(
                colour,
                Color::Reset
                    | Color::Black
                    | Color::Red
                    | Color::Green
                    | Color::Yellow
                    | Color::Blue
                    | Color::Magenta
                    | Color::Cyan
                    | Color::Gray
            ),
            Palette::Monochrome => colour == Color::Reset,
        }
    }
}

/// Which side of a cell a colour paints.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Layer {
    Fg,
    Bg,
}

/// A colour of the 8-colour palette: bright colours fold onto their basic
/// counterparts. Dark grey text (hints, borders) takes the terminal's own
/// colour, which reads on dark and light backgrounds alike; a dark grey
/// background becomes black.
fn eight(colour: Color, layer: Layer) -> Color {
    match colour {
        Color::LightRed => Color::Red,
        Color::LightGreen => Color::Green,
        Color::LightYellow => Color::Yellow,
        Color::LightBlue => Color::Blue,
        Color::LightMagenta => Color::Magenta,
        Color::LightCyan => Color::Cyan,
        Color::White => Color::Gray,
        Color::DarkGray if layer == Layer::Bg => Color::Black,
        Color::DarkGray => Color::Reset,
        Color::Indexed(n) if n < 16 => eight(basic(n), layer),
        Color::Indexed(_) | Color::Rgb(..) => Color::Reset,
        basic => basic,
    }
}

/// ANSI colour `n` (0-15) by name.
fn basic(n: u8) -> Color {
    const ANSI: [Color; 16] = [
        Color::Black,
        Color::Red,
        Color::Green,
        Color::Yellow,
        Color::Blue,
        Color::Magenta,
        Color::Cyan,
        Color::Gray,
        Color::DarkGray,
        Color::LightRed,
        Color::LightGreen,
        Color::LightYellow,
        Color::LightBlue,
        Color::LightMagenta,
        Color::LightCyan,
        Color::White,
    ];
    ANSI[usize::from(n % 16)]
}

#[cfg(test)]
mod tests {
    use ratatui::layout::Rect;
    use ratatui::style::{Modifier, Style};

    use super::*;

    #[test]
    fn the_terminal_decides_the_palette() {
        let detect = Palette::detect;
        assert_eq!(detect(true, Some("dumb"), 8), Palette::Monochrome);
        assert_eq!(detect(true, Some("dumb"), 256), Palette::Monochrome);
        assert_eq!(
            detect(false, Some("xterm-256color"), 256),
            Palette::Monochrome
        );
        assert_eq!(detect(true, Some("xterm-256color"), 256), Palette::Sixteen);
        assert_eq!(detect(true, Some("xterm"), u16::MAX), Palette::Sixteen);
        assert_eq!(detect(true, Some("rxvt-16color"), 8), Palette::Sixteen);
        assert_eq!(detect(true, Some("xterm"), 8), Palette::Eight);
        assert_eq!(detect(true, Some("linux"), 8), Palette::Eight);
        assert_eq!(detect(true, None, 8), Palette::Eight);
    }

    #[test]
    fn every_colour_maps_into_its_palette() {
        let all =
            (0..16)
                .map(basic)
                .chain([Color::Reset, Color::Indexed(200), Color::Rgb(1, 2, 3)]);
        for palette in [Palette::Eight, Palette::Monochrome] {
            let mut buf = Buffer::empty(Rect::new(0, 0, 20, 1));
            for (x, colour) in all.clone().enumerate() {
                buf[(x as u16, 0)].set_style(
                    Style::new()
                        .fg(colour)
                        .bg(colour)
                        .add_modifier(Modifier::BOLD),
                );
            }
            palette.apply(&mut buf);
            for cell in buf.content() {
                assert!(palette.allows(cell.fg), "{palette:?}: {:?}", cell.fg);
                assert!(palette.allows(cell.bg), "{palette:?}: {:?}", cell.bg);
            }
            assert!(buf.content()[0].modifier.contains(Modifier::BOLD));
        }
        assert_eq!(eight(Color::LightCyan, Layer::Fg), Color::Cyan);
        assert_eq!(eight(Color::White, Layer::Fg), Color::Gray);
        assert_eq!(eight(Color::DarkGray, Layer::Fg), Color::Reset);
        assert_eq!(eight(Color::DarkGray, Layer::Bg), Color::Black);
        assert_eq!(eight(Color::Indexed(9), Layer::Fg), Color::Red);
        let mut buf = Buffer::empty(Rect::new(0, 0, 1, 1));
        buf[(0, 0)].set_fg(Color::LightRed);
        Palette::Sixteen.apply(&mut buf);
        assert_eq!(buf[(0, 0)].fg, Color::LightRed, "16 colours: as drawn");
    }
}
