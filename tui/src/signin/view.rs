//! Drawing the sign-in form: a box centred on the screen with the mode
//! (sign in or register), the fields (the password masked), the rules
//! when registering, what went wrong or what is under way, and the keys.
//! [`cursor`] puts the terminal cursor in the field being typed.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Position, Rect};
use ratatui::style::{Color, Modifier, Style, Stylize};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Widget, Wrap};

use super::{Field, Mode, SignInForm, password_rules};

/// How a password shows.
const MASK: char = '•';
/// The widest the box gets.
const WIDTH: u16 = 60;
/// The label column.
const LABEL: u16 = 10;

/// Where each part of the form goes.
struct Geometry {
    popup: Rect,
    mode: Rect,
    /// Each field shown: which, its label and its input.
    fields: Vec<(Field, Rect, Rect)>,
    rules: Rect,
    message: Rect,
    hint: Rect,
}

fn geometry(form: &SignInForm, area: Rect) -> Geometry {
    let fields = form.fields();
    let rules = if form.mode() == Mode::Register { 2 } else { 0 };
    // Border, blank, mode, blank, fields, blank, rules, message (2), blank,
    // keys.
    let height = 2 + 3 + fields.len() as u16 + 1 + rules + 2 + 2;
    let width = WIDTH.min(area.width);
    let popup = area.centered(Constraint::Length(width), Constraint::Length(height));
    let inner = Block::bordered()
        .inner(popup)
        .inner(ratatui::layout::Margin::new(2, 0));
    let mut constraints = vec![Constraint::Length(1); 3];
    constraints.extend(fields.iter().map(|_| Constraint::Length(1)));
    constraints.extend([
        Constraint::Length(1),
        Constraint::Length(rules),
        Constraint::Length(2),
        Constraint::Length(1),
        Constraint::Length(1),
    ]);
    let rows = Layout::vertical(constraints).split(inner);
    let n = fields.len();
    let fields = fields
        .iter()
        .enumerate()
        .map(|(i, field)| {
            let [label, input] =
                Layout::horizontal([Constraint::Length(LABEL), Constraint::Fill(1)])
                    .areas(rows[3 + i]);
            (*field, label, input)
        })
        .collect();
    Geometry {
        popup,
        mode: rows[1],
        fields,
        rules: rows[4 + n],
        message: rows[5 + n],
        hint: rows[7 + n],
    }
}

fn label(field: Field) -> &'static str {
    match field {
        Field::Name => "Name",
        Field::Password => "Password",
        Field::Confirm => "Again",
    }
}

/// Draws the form over `area` (the whole screen); `addr` is the daemon's.
pub(crate) fn render(form: &SignInForm, addr: &str, area: Rect, buf: &mut Buffer) {
    let g = geometry(form, area);
    Clear.render(g.popup, buf);
    let title = match form.mode() {
        Mode::SignIn => format!(" Sign in to {addr} "),
        Mode::Register => format!(" Register on {addr} "),
    };
    Block::bordered()
        .border_style(Style::new().fg(Color::Cyan))
        .title(Line::from(title).bold())
        .render(g.popup, buf);

    let chosen = Style::new().add_modifier(Modifier::REVERSED | Modifier::BOLD);
    let (sign_in, register) = match form.mode() {
        Mode::SignIn => (chosen, Style::new()),
        Mode::Register => (Style::new(), chosen),
    };
    Line::from(vec![
        Span::styled(" Sign in ", sign_in),
        Span::raw("  "),
        Span::styled(" Register ", register),
        Span::styled("   Ctrl-R switches", Style::new().fg(Color::DarkGray)),
    ])
    .render(g.mode, buf);

    for (field, label_area, input) in &g.fields {
        let focused = *field == form.focus();
        let style = if focused {
            Style::new().fg(Color::Cyan).bold()
        } else {
            Style::new()
        };
        Span::styled(label(*field), style).render(*label_area, buf);
        let mask = (*field != Field::Name).then_some(MASK);
        let (text, _) = form.field(*field).view(usize::from(input.width), mask);
        // Padded and underlined, so the field shows where typing goes.
        let padded = format!("{text:<width$}", width = usize::from(input.width));
        Span::styled(padded, Style::new().add_modifier(Modifier::UNDERLINED)).render(*input, buf);
    }

    if form.mode() == Mode::Register {
        let dim = Style::new().fg(Color::DarkGray);
        Paragraph::new(vec![
            Line::styled("Name: 1-32 of a-z 0-9 _ - . (A-Z folded)", dim),
            Line::styled(format!("Password: {}", password_rules()), dim),
        ])
        .render(g.rules, buf);
    }

    let message = match (form.waiting(), form.error()) {
        (true, _) => Line::styled(
            match form.mode() {
                Mode::SignIn => "signing in…",
                Mode::Register => "registering…",
            },
            Style::new().fg(Color::Yellow),
        ),
        (false, Some(error)) => Line::styled(format!("✗ {error}"), Style::new().fg(Color::Red)),
        (false, None) => Line::default(),
    };
    Paragraph::new(message)
        .wrap(Wrap { trim: true })
        .render(g.message, buf);

    let enter = match form.mode() {
        Mode::SignIn => "Enter signs in",
        Mode::Register => "Enter registers",
    };
    Line::styled(
        format!("{enter} · Tab next field · Esc closes"),
        Style::new().fg(Color::DarkGray),
    )
    .render(g.hint, buf);
}

/// Where the terminal cursor goes: in the field being typed.
pub(crate) fn cursor(form: &SignInForm, area: Rect) -> Option<Position> {
    if form.waiting() {
        return None;
    }
    let g = geometry(form, area);
    let (field, _, input) = g.fields.iter().find(|(f, _, _)| *f == form.focus())?;
    if input.width == 0 {
        return None;
    }
    let mask = (*field != Field::Name).then_some(MASK);
    let (_, col) = form.field(*field).view(usize::from(input.width), mask);
    let x = input.x.saturating_add(col as u16).min(input.right() - 1);
    Some(Position::new(x, input.y))
}
