//! RTP header extensions (RFC 8285): one-byte (`0xBEDE`) and two-byte (`0x100X`) forms.
//!
//! Tolerated: padding bytes (id 0) anywhere between elements (RFC 8285 §4.2,
//! §4.3). A one-byte element with id 15 stops parsing (§4.2). A malformed
//! element (length running past the block) ends iteration and sets
//! [`Extensions::malformed`]; nothing panics. Other profiles (RFC 3550 §5.3.1)
//! are exposed raw via [`Extensions::profile`] and [`Extensions::raw`].

/// Profile value of the one-byte header form (RFC 8285 §4.2).
pub const ONE_BYTE_PROFILE: u16 = 0xBEDE;

/// Which layout the extension block uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExtensionForm {
    /// No extension block.
    None,
    /// RFC 8285 §4.2 one-byte headers (profile 0xBEDE).
    OneByte,
    /// RFC 8285 §4.3 two-byte headers (profile 0x100X); `appbits` is X.
    TwoByte {
        /// The 4 application-dependent low bits of the profile.
        appbits: u8,
    },
    /// A profile RFC 8285 does not define; only raw bytes are available.
    Other(u16),
}

/// One header extension element.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Extension<'a> {
    /// Local identifier negotiated with `a=extmap` (1..=14 one-byte, 1..=255 two-byte).
    pub id: u8,
    /// Element data (may be empty in the two-byte form).
    pub data: &'a [u8],
}

/// Iterator over the RFC 8285 elements of one packet's extension block.
#[derive(Clone, Debug)]
pub struct Extensions<'a> {
    profile: u16,
    present: bool,
    data: &'a [u8],
    pos: usize,
    malformed: bool,
    done: bool,
}

impl<'a> Extensions<'a> {
    /// An extension block with `profile` whose body (after the 4-byte header) is `data`.
    pub fn new(profile: u16, data: &'a [u8]) -> Self {
        Extensions {
            profile,
            present: true,
            data,
            pos: 0,
            malformed: false,
            done: false,
        }
    }

    /// No extension block at all.
    pub fn empty() -> Self {
        Extensions {
            profile: 0,
            present: false,
            data: &[],
            pos: 0,
            malformed: false,
            done: true,
        }
    }

    /// The 16-bit "defined by profile" field (0 when there is no block).
    pub fn profile(&self) -> u16 {
        self.profile
    }

    /// The layout implied by the profile.
    pub fn form(&self) -> ExtensionForm {
        if !self.present {
            ExtensionForm::None
        } else if self.profile == ONE_BYTE_PROFILE {
            ExtensionForm::OneByte
        } else if self.profile & 0xFFF0 == 0x1000 {
            ExtensionForm::TwoByte {
                appbits: (self.profile & 0x000F) as u8,
            }
        } else {
            ExtensionForm::Other(self.profile)
        }
    }

    /// The whole extension body, whatever the profile.
    pub fn raw(&self) -> &'a [u8] {
        self.data
    }

    /// True once iteration stopped at a malformed element.
    pub fn malformed(&self) -> bool {
        self.malformed
    }

    /// Walks the whole block from the start and tells whether any element is malformed.
    pub fn is_valid(&self) -> bool {
        let mut all = self.restarted();
        all.by_ref().for_each(drop);
        !all.malformed
    }

    /// Data of the first element with this id, searching the whole block.
    pub fn get(&self, id: u8) -> Option<&'a [u8]> {
        self.restarted().find(|e| e.id == id).map(|e| e.data)
    }

    fn restarted(&self) -> Self {
        Extensions {
            pos: 0,
            malformed: false,
            done: !self.present,
            ..self.clone()
        }
    }

    fn stop_malformed(&mut self) -> Option<Extension<'a>> {
        self.malformed = true;
        self.done = true;
        None
    }

    fn next_one_byte(&mut self) -> Option<Extension<'a>> {
        loop {
            let &b = self.data.get(self.pos)?;
            if b == 0 {
                self.pos += 1;
                continue;
            }
            let id = b >> 4;
            if id == 15 {
                // RFC 8285 §4.2: id 15 is reserved; "the parsing should stop".
                self.done = true;
                return None;
            }
            let len = usize::from(b & 0x0F) + 1;
            let start = self.pos + 1;
            let Some(data) = self.data.get(start..start + len) else {
                return self.stop_malformed();
            };
            self.pos = start + len;
            return Some(Extension { id, data });
        }
    }

    fn next_two_byte(&mut self) -> Option<Extension<'a>> {
        loop {
            let &id = self.data.get(self.pos)?;
            if id == 0 {
                self.pos += 1;
                continue;
            }
            let Some(&len) = self.data.get(self.pos + 1) else {
                return self.stop_malformed();
            };
            let start = self.pos + 2;
            let Some(data) = self.data.get(start..start + usize::from(len)) else {
                return self.stop_malformed();
            };
            self.pos = start + usize::from(len);
            return Some(Extension { id, data });
        }
    }
}

impl<'a> Iterator for Extensions<'a> {
    type Item = Extension<'a>;

    fn next(&mut self) -> Option<Extension<'a>> {
        if self.done {
            return None;
        }
        let item = match self.form() {
            ExtensionForm::OneByte => self.next_one_byte(),
            ExtensionForm::TwoByte { .. } => self.next_two_byte(),
            ExtensionForm::None | ExtensionForm::Other(_) => None,
        };
        if item.is_none() {
            self.done = true;
        }
        item
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ids(e: Extensions<'_>) -> (Vec<(u8, Vec<u8>)>, bool) {
        let mut it = e;
        let v = it.by_ref().map(|e| (e.id, e.data.to_vec())).collect();
        (v, it.malformed())
    }

    #[test]
    fn one_byte_table() {
        type Case = (&'static [u8], &'static [(u8, &'static [u8])], bool);
        let cases: &[Case] = &[
            (&[], &[], false),
            (&[0, 0, 0, 0], &[], false),
            (&[0x10, 0xaa, 0, 0], &[(1, &[0xaa])], false),
            (&[0x22, 1, 2, 3], &[(2, &[1, 2, 3])], false),
            (
                &[0, 0x10, 0xaa, 0x30, 0xbb, 0, 0, 0],
                &[(1, &[0xaa]), (3, &[0xbb])],
                false,
            ),
            // id 15 stops parsing; what follows is ignored.
            (
                &[0x10, 0xaa, 0xf0, 0x20, 0xbb, 0, 0, 0],
                &[(1, &[0xaa])],
                false,
            ),
            // Length runs past the end.
            (&[0x10, 0xaa, 0x23, 1, 2], &[(1, &[0xaa])], true),
            (&[0x1f], &[], true),
        ];
        for (i, (body, want, bad)) in cases.iter().enumerate() {
            let (got, malformed) = ids(Extensions::new(ONE_BYTE_PROFILE, body));
            let want: Vec<_> = want.iter().map(|(id, d)| (*id, d.to_vec())).collect();
            assert_eq!(got, want, "case {i}");
            assert_eq!(malformed, *bad, "case {i}");
            assert_eq!(
                Extensions::new(ONE_BYTE_PROFILE, body).is_valid(),
                !bad,
                "case {i}"
            );
        }
    }

    #[test]
    fn two_byte_table() {
        type Case = (&'static [u8], &'static [(u8, &'static [u8])], bool);
        let cases: &[Case] = &[
            (&[], &[], false),
            (&[1, 0, 0, 0], &[(1, &[])], false),
            (&[0, 200, 2, 7, 8, 0, 0, 0], &[(200, &[7, 8])], false),
            (&[5, 1, 9, 6, 0, 0, 0, 0], &[(5, &[9]), (6, &[])], false),
            (&[5, 3, 9], &[], true),
            (&[5, 1, 9, 6], &[(5, &[9])], true),
        ];
        for (i, (body, want, bad)) in cases.iter().enumerate() {
            let e = Extensions::new(0x1003, body);
            assert_eq!(e.form(), ExtensionForm::TwoByte { appbits: 3 });
            let (got, malformed) = ids(e);
            let want: Vec<_> = want.iter().map(|(id, d)| (*id, d.to_vec())).collect();
            assert_eq!(got, want, "case {i}");
            assert_eq!(malformed, *bad, "case {i}");
        }
    }

    #[test]
    fn get_searches_from_start() {
        let body = [0x10, 0xaa, 0x21, 0xbb, 0xcc, 0];
        let mut e = Extensions::new(ONE_BYTE_PROFILE, &body);
        assert_eq!(e.next().map(|x| x.id), Some(1));
        assert_eq!(e.get(1), Some(&[0xaa][..]));
        assert_eq!(e.get(2), Some(&[0xbb, 0xcc][..]));
        assert_eq!(e.get(3), None);
    }

    #[test]
    fn other_profile_is_raw() {
        let e = Extensions::new(0x1234, &[1, 2, 3, 4]);
        assert_eq!(e.form(), ExtensionForm::Other(0x1234));
        assert_eq!(e.raw(), &[1, 2, 3, 4]);
        assert_eq!(e.profile(), 0x1234);
        assert_eq!(e.count(), 0);
        assert_eq!(Extensions::empty().form(), ExtensionForm::None);
    }

    #[test]
    fn truncation_at_every_length() {
        let body = [0x10, 0xaa, 0x22, 1, 2, 3, 0x30, 9];
        for n in 0..=body.len() {
            let _ = Extensions::new(ONE_BYTE_PROFILE, &body[..n]).count();
            let _ = Extensions::new(0x1000, &body[..n]).count();
        }
    }

    proptest! {
        #[test]
        fn never_panics(profile in prop_oneof![Just(0xBEDEu16), Just(0x1000u16), any::<u16>()],
                        body in proptest::collection::vec(any::<u8>(), 0..64)) {
            let e = Extensions::new(profile, &body);
            let total: usize = e.clone().map(|x| x.data.len()).sum();
            prop_assert!(total <= body.len());
            let _ = e.get(1);
            let _ = e.is_valid();
        }
    }
}
