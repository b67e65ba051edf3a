//! The encoding of an [`OrgState`] for a client's store (which seals it): its fields in order,
//! with trailing sections that an older encoding lacks (read as empty).

use super::*;

impl OrgState {
    /// The state's encoding, for a client's store (which seals it).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(1024);
        out.put_u8(STATE_FORMAT);
        out.put_raw(&self.genesis_hash);
        out.put_raw(self.root_key.as_bytes());
        out.put_bytes(self.name.as_bytes());
        out.put_u64(self.head.len);
        out.put_raw(&self.head.hash);
        out.put_u64(self.last_timestamp);
        self.policy.write(&mut out);
        out.put_len(self.users.len());
        for (user, u) in &self.users {
            let profile_entry = OrgBody::UserAdded {
                user: user.clone(),
                profile: u.profile.clone(),
            };
            profile_entry.write(&mut out);
            out.put_u8(u8::from(u.admin));
            out.put_u8(u8::from(u.dismissed));
            out.put_len(u.devices.len());
            for (n, d) in &u.devices {
                out.put_u32(*n);
                d.identity.write(&mut out);
                out.put_u64(d.added_seq);
                out.put_u64(d.added_at);
                match &d.revoked {
                    None => out.put_u8(0),
                    Some(r) => {
                        out.put_u8(r.reason.to_code());
                        out.put_u64(r.seq);
                        out.put_u64(r.timestamp);
                    }
                }
            }
        }
        out.put_len(self.invites.len());
        for (key, i) in &self.invites {
            out.put_raw(key);
            out.put_bytes(i.user.as_str().as_bytes());
            out.put_u64(i.expires_at);
            out.put_u8(u8::from(i.used));
        }
        out.put_len(self.wipes.len());
        for w in &self.wipes {
            out.put_bytes(w.user.as_str().as_bytes());
            out.put_u32(w.device);
            out.put_u64(w.seq);
            match w.done {
                None => out.put_u8(0),
                Some((seq, at)) => {
                    out.put_u8(1);
                    out.put_u64(seq);
                    out.put_u64(at);
                }
            }
        }
        // Added after the first stores were written: a state without it has no posters.
        out.put_len(self.posters.len());
        for p in &self.posters {
            out.put_bytes(p.as_str().as_bytes());
        }
        out
    }

    /// Decodes [`OrgState::to_bytes`]. The bytes come from the client's own sealed store, where
    /// only a state built by [`OrgState::apply`] is written, so signatures are not checked
    /// again; the decoding still refuses anything malformed.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, OrgError> {
        let mut r = Reader::new(bytes);
        match r.u8()? {
            STATE_FORMAT => {}
            v => return Err(DecodeError::UnknownVersion(v).into()),
        }
        let genesis_hash = r.array()?;
        let root_key = SigningPublicKey::read(&mut r)?;
        let name = read_string(&mut r, MAX_ORG_NAME_LEN)?;
        let head = LogHead {
            len: r.u64()?,
            hash: r.array()?,
        };
        let last_timestamp = r.u64()?;
        let policy = Policy::read(&mut r)?;
        let mut users = BTreeMap::new();
        let mut device_keys = BTreeMap::new();
        for _ in 0..r.count(usize::MAX, 8)? {
            let OrgBody::UserAdded { user, profile } = OrgBody::read(&mut r)? else {
                return Err(DecodeError::InvalidValue.into());
            };
            let admin = r.bool()?;
            let dismissed = r.bool()?;
            let mut devices = BTreeMap::new();
            for _ in 0..r.count(usize::MAX, 8)? {
                let n = r.u32()?;
                let identity = PublicIdentity::read_verified_before(&mut r)?;
                let added_seq = r.u64()?;
                let added_at = r.u64()?;
                let revoked = match r.u8()? {
                    0 => None,
                    code => Some(Revocation {
                        reason: RevokeReason::from_code(code)?,
                        seq: r.u64()?,
                        timestamp: r.u64()?,
                    }),
                };
                device_keys.insert(identity.signing_key().to_bytes(), (user.clone(), n));
                devices.insert(
                    n,
                    DeviceRecord {
                        identity,
                        added_seq,
                        added_at,
                        revoked,
                    },
                );
            }
            let record = UserRecord {
                profile,
                admin,
                dismissed,
                devices,
            };
            users.insert(user, record);
        }
        let mut invites = BTreeMap::new();
        for _ in 0..r.count(usize::MAX, 32)? {
            let key = r.array()?;
            let record = InviteRecord {
                user: read_user(&mut r)?,
                expires_at: r.u64()?,
                used: r.bool()?,
            };
            invites.insert(key, record);
        }
        let mut wipes = Vec::new();
        for _ in 0..r.count(usize::MAX, 16)? {
            wipes.push(WipeOrder {
                user: read_user(&mut r)?,
                device: r.u32()?,
                seq: r.u64()?,
                done: match r.bool()? {
                    false => None,
                    true => Some((r.u64()?, r.u64()?)),
                },
            });
        }
        let mut posters = std::collections::BTreeSet::new();
        if r.remaining() > 0 {
            for _ in 0..r.count(usize::MAX, 4)? {
                posters.insert(read_user(&mut r)?);
            }
        }
        r.finish()?;
        Ok(Self {
            genesis_hash,
            root_key,
            name,
            head,
            last_timestamp,
            users,
            invites,
            device_keys,
            policy,
            wipes,
            posters,
        })
    }
}
