//! Output paths are unique per run by construction: two tracks never share a
//! file (and so never an asset id).

use super::recorder::Identity;

/// Output paths taken in this run: two tracks never share a file.
#[derive(Debug, Default)]
pub(super) struct Claimed {
    paths: std::collections::HashSet<String>,
    /// Identities renamed to stay apart, for the warning.
    pub(super) renamed: Vec<(String, String)>,
}

impl Claimed {
    /// The track's path, `room/session/peer/track.ext`, unique in the run by
    /// construction: an identity whose path is taken (two ids that sanitise
    /// alike, or an id reused within a session) gets `-2`, `-3`... on its track id.
    pub(super) fn claim(&mut self, id: &mut Identity, ext: &str) -> String {
        let path = |track: &str| {
            format!(
                "{}/{}/{}/{}.{}",
                id.room_id, id.session_id, id.peer_id, track, ext
            )
        };
        let mut track = id.track_id.clone();
        let mut n = 1;
        while self.paths.contains(&path(&track)) {
            n += 1;
            track = format!("{}-{n}", id.track_id);
        }
        let rel = path(&track);
        if track != id.track_id {
            self.renamed.push((path(&id.track_id), track.clone()));
            id.track_id = track;
        }
        self.paths.insert(rel.clone());
        rel
    }
}
