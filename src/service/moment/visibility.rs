//! THE rule of who sees a moment, and whose likes and comments on it.
//!
//! [`visible`] is a pure function of the moment's audience, the viewer's
//! tie to the author, the two per-friend settings, the author's visible
//! window and the place; PROTOCOL section 5 ("Who sees a moment") holds it
//! as a table, and a test reads that table and holds the function to every
//! row. Every surface asks it through a [`Sight`]: the feed, a user's page,
//! one moment, likes, comments and their counts, the notices, and the
//! files (`conversation::attachments`), each at the moment it serves.

use std::collections::HashMap;

use super::store;
use crate::protocol::{MomentAudience, MomentVisibility, MomentWindow};
use crate::service::social::{self, Pair};
use crate::storage::{Get, StorageError};

/// What the viewer is to the author.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Tie {
    /// The author themselves.
    Own,
    /// A friend, no block between them.
    Friend,
    /// Neither friend nor blocked.
    Stranger,
    /// A block stands between them, whoever blocked whom.
    Blocked,
}

/// The viewer and the author, as the rule reads them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Between {
    /// The tie.
    pub tie: Tie,
    /// The author chose "don't show my moments to" the viewer.
    pub hidden_by_author: bool,
    /// The viewer chose "hide their moments from my feed".
    pub hidden_from_feed: bool,
}

/// Where a moment is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Place {
    /// The viewer's feed.
    Feed,
    /// Anywhere else: the author's page, the moment itself, its likes,
    /// comments and files, a notice about it.
    Elsewhere,
}

/// Whether a viewer sees a moment posted at `posted_ms` (`listed`: the
/// viewer is in the moment's list), at `now_ms`.
pub(crate) fn visible(
    audience: MomentAudience,
    listed: bool,
    posted_ms: u64,
    between: Between,
    window: MomentWindow,
    now_ms: u64,
    place: Place,
) -> bool {
    let friend = match between.tie {
        Tie::Own => return true,
        Tie::Blocked => return false,
        Tie::Friend => true,
        Tie::Stranger => false,
    };
    if between.hidden_by_author || (place == Place::Feed && between.hidden_from_feed) {
        return false;
    }
    if window.span_ms().is_some_and(|span| posted_ms.saturating_add(span) < now_ms) {
        return false;
    }
    match audience {
        MomentAudience::Public => true,
        MomentAudience::Friends => friend,
        MomentAudience::Only => friend && listed,
        MomentAudience::Except => friend && !listed,
    }
}

/// Whether a viewer who sees a moment sees a like or comment of `actor` on
/// it: their own, the author's, every one to the author, and otherwise
/// only those of the viewer's friends.
pub(crate) fn sees_activity(viewer: u64, author: u64, actor: u64, friends: bool) -> bool {
    viewer == actor || viewer == author || actor == author || friends
}

/// One viewer's reading of the rule, with what it read of each author and
/// each other user kept for the rest of the request.
pub(crate) struct Sight {
    /// The viewer.
    pub viewer: u64,
    /// When the rule is read.
    pub now_ms: u64,
    authors: HashMap<u64, (Between, MomentWindow)>,
    friends: HashMap<u64, bool>,
}

impl Sight {
    /// The rule as `viewer` meets it at `now_ms`.
    pub(crate) fn new(viewer: u64, now_ms: u64) -> Sight {
        Sight { viewer, now_ms, authors: HashMap::new(), friends: HashMap::new() }
    }

    /// What stands between the viewer and an author, and the author's window.
    pub(crate) fn author(&mut self, r: &impl Get, author: u64) -> Result<(Between, MomentWindow), StorageError> {
        if let Some(known) = self.authors.get(&author) {
            return Ok(*known);
        }
        let read = if author == self.viewer {
            (Between { tie: Tie::Own, hidden_by_author: false, hidden_from_feed: false }, MomentWindow::All)
        } else {
            let relation = social::relation(r, Pair::of(self.viewer, author))?;
            let tie = if relation.blocked() {
                Tie::Blocked
            } else if relation.friends_since.is_some() {
                Tie::Friend
            } else {
                Tie::Stranger
            };
            self.friends.insert(author, tie == Tie::Friend);
            let filter = store::filter(r, self.viewer, author)?;
            let between =
                Between { tie, hidden_by_author: filter.hidden_from_me, hidden_from_feed: filter.hide_theirs };
            (between, store::window(r, author)?)
        };
        self.authors.insert(author, read);
        Ok(read)
    }

    /// Whether the viewer sees moment `id` with this author and audience at `place`.
    pub(crate) fn sees(
        &mut self,
        r: &impl Get,
        id: u64,
        author: u64,
        visibility: &MomentVisibility,
        place: Place,
    ) -> Result<bool, StorageError> {
        let (between, window) = self.author(r, author)?;
        let listed = visibility.users.contains(&self.viewer);
        let posted = crate::id::id_time_ms(id);
        Ok(visible(visibility.audience, listed, posted, between, window, self.now_ms, place))
    }

    /// Whether the viewer sees `actor`'s likes and comments on a moment of
    /// `author` they see.
    pub(crate) fn sees_activity_of(&mut self, r: &impl Get, author: u64, actor: u64) -> Result<bool, StorageError> {
        if sees_activity(self.viewer, author, actor, false) {
            return Ok(true);
        }
        let friends = match self.friends.get(&actor) {
            Some(known) => *known,
            None => {
                let relation = social::relation(r, Pair::of(self.viewer, actor))?;
                let friends = relation.friends_since.is_some() && !relation.blocked();
                self.friends.insert(actor, friends);
                friends
            }
        };
        Ok(sees_activity(self.viewer, author, actor, friends))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_800_000_000_000;
    const DAY: u64 = 86_400_000;

    /// PROTOCOL's table, row by row: every cell is what [`visible`] says.
    #[test]
    fn the_rule_is_the_documented_table() {
        let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/PROTOCOL.md")).unwrap();
        let start = doc.find("<!-- moment visibility table -->").expect("the table's marker");
        let rows: Vec<&str> = doc[start..]
            .lines()
            .skip(1)
            .skip_while(|l| !l.starts_with('|'))
            .take_while(|l| l.starts_with('|'))
            .collect();
        let header: Vec<&str> = cells(rows[0]);
        let audiences = [
            ("Public", MomentAudience::Public, false),
            ("Friends", MomentAudience::Friends, false),
            ("Only, listed", MomentAudience::Only, true),
            ("Only, not listed", MomentAudience::Only, false),
            ("Except, listed", MomentAudience::Except, true),
            ("Except, not listed", MomentAudience::Except, false),
        ];
        assert_eq!(header[1..], audiences.map(|a| a.0), "the table's columns");
        let mut checked = 0;
        for row in &rows[2..] {
            let cells = cells(row);
            let (between, window, posted, place) = viewer(cells[0]);
            for ((name, audience, listed), cell) in audiences.iter().zip(&cells[1..]) {
                let expected = match *cell {
                    "sees" => true,
                    "—" => false,
                    other => panic!("cell {other:?} in row {:?}", cells[0]),
                };
                let got = visible(*audience, *listed, posted, between, window, NOW, place);
                assert_eq!(got, expected, "row {:?}, column {name}", cells[0]);
                checked += 1;
            }
        }
        assert_eq!(checked, 6 * 13, "every row of the table is read");
    }

    fn cells(row: &str) -> Vec<&str> {
        row.trim_matches('|').split('|').map(str::trim).collect()
    }

    /// A row's viewer, as the table's first column names it.
    fn viewer(name: &str) -> (Between, MomentWindow, u64, Place) {
        let plain = |tie| Between { tie, hidden_by_author: false, hidden_from_feed: false };
        let recent = NOW - DAY;
        match name {
            "the author" => (plain(Tie::Own), MomentWindow::All, recent, Place::Elsewhere),
            "the author, a moment older than their window" => {
                (plain(Tie::Own), MomentWindow::ThreeDays, NOW - 10 * DAY, Place::Feed)
            }
            "a friend" => (plain(Tie::Friend), MomentWindow::All, recent, Place::Elsewhere),
            "a friend, in their feed" => (plain(Tie::Friend), MomentWindow::All, recent, Place::Feed),
            "a friend the author hides their moments from" => {
                (Between { hidden_by_author: true, ..plain(Tie::Friend) }, MomentWindow::All, recent, Place::Elsewhere)
            }
            "a friend who hides the author's moments, in their feed" => {
                (Between { hidden_from_feed: true, ..plain(Tie::Friend) }, MomentWindow::All, recent, Place::Feed)
            }
            "a friend who hides the author's moments, elsewhere" => {
                (Between { hidden_from_feed: true, ..plain(Tie::Friend) }, MomentWindow::All, recent, Place::Elsewhere)
            }
            "a friend, a moment within the author's window" => {
                (plain(Tie::Friend), MomentWindow::ThreeDays, NOW - 2 * DAY, Place::Elsewhere)
            }
            "a friend, a moment older than the author's window" => {
                (plain(Tie::Friend), MomentWindow::ThreeDays, NOW - 4 * DAY, Place::Elsewhere)
            }
            "a stranger" => (plain(Tie::Stranger), MomentWindow::All, recent, Place::Elsewhere),
            "a stranger the author hides their moments from" => (
                Between { hidden_by_author: true, ..plain(Tie::Stranger) },
                MomentWindow::All,
                recent,
                Place::Elsewhere,
            ),
            "a stranger, a moment older than the author's window" => {
                (plain(Tie::Stranger), MomentWindow::Month, NOW - 31 * DAY, Place::Elsewhere)
            }
            "blocked, either way" => (plain(Tie::Blocked), MomentWindow::All, recent, Place::Elsewhere),
            other => panic!("a row the test does not know: {other:?}"),
        }
    }

    #[test]
    fn activity_is_seen_between_friends_and_with_the_author() {
        let (viewer, author, friend, stranger) = (1, 2, 3, 4);
        assert!(sees_activity(viewer, author, viewer, false), "one's own");
        assert!(sees_activity(viewer, author, author, false), "the author's");
        assert!(sees_activity(author, author, stranger, false), "the author sees all");
        assert!(sees_activity(viewer, author, friend, true), "a friend's");
        assert!(!sees_activity(viewer, author, stranger, false), "not a stranger's");
    }
}
