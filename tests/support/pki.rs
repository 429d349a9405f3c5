//! A PKI made at test time with rcgen: roots, intermediates, leaves (ECDSA
//! or RSA), PEM encoding.

use super::*;

/// A certificate authority made at test time.
pub struct Ca {
    params: CertificateParams,
    key: KeyPair,
    /// The CA certificate, DER.
    pub der: Vec<u8>,
    /// Issuers above this CA (DER, nearest first), excluding the root.
    pub parents: Vec<Vec<u8>>,
    root: bool,
}

fn dn(params: &mut CertificateParams, cn: &str, org: Option<&str>) {
    params.distinguished_name.push(DnType::CommonName, cn);
    if let Some(o) = org {
        params.distinguished_name.push(DnType::OrganizationName, o);
    }
}

fn ca_params(cn: &str, org: Option<&str>) -> CertificateParams {
    let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
    dn(&mut p, cn, org);
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let now = time::OffsetDateTime::now_utc();
    p.not_before = now - time::Duration::days(3650);
    p.not_after = now + time::Duration::days(3650);
    p
}

impl Ca {
    /// A self-signed root.
    pub fn root(cn: &str, org: &str) -> Ca {
        let key = KeyPair::generate().unwrap();
        let params = ca_params(cn, Some(org));
        let der = params.self_signed(&key).unwrap().der().to_vec();
        Ca {
            params,
            key,
            der,
            parents: Vec::new(),
            root: true,
        }
    }

    /// An intermediate signed by `self`.
    pub fn intermediate(&self, cn: &str, org: &str) -> Ca {
        self.intermediate_with_key(cn, org, KeyPair::generate().unwrap())
    }

    /// An intermediate signed by `self` with a given key.
    pub fn intermediate_with_key(&self, cn: &str, org: &str, key: KeyPair) -> Ca {
        let params = ca_params(cn, Some(org));
        let issuer = Issuer::from_params(&self.params, &self.key);
        let der = params.signed_by(&key, &issuer).unwrap().der().to_vec();
        let mut parents = Vec::new();
        if !self.is_root() {
            parents.push(self.der.clone());
            parents.extend(self.parents.iter().cloned());
        }
        Ca {
            params,
            key,
            der,
            parents,
            root: false,
        }
    }

    fn is_root(&self) -> bool {
        self.root
    }

    /// PEM of this CA's certificate.
    pub fn pem(&self) -> String {
        pem(&self.der)
    }

    /// A leaf for `names`, valid from `not_before_days` ago for `days` days.
    pub fn leaf_valid(&self, names: &[&str], not_before_days: i64, days: i64) -> Leaf {
        let now = time::OffsetDateTime::now_utc();
        let not_before = now - time::Duration::days(not_before_days);
        let not_after = not_before + time::Duration::days(days);
        self.leaf_at(names, not_before, not_after, &KeyPair::generate().unwrap())
    }

    /// A leaf valid over absolute times, with a given key (PKCS#8 DER; RSA or ECDSA).
    pub fn leaf_at(
        &self,
        names: &[&str],
        not_before: time::OffsetDateTime,
        not_after: time::OffsetDateTime,
        key: &KeyPair,
    ) -> Leaf {
        self.leaf_from(&leaf_params(names, not_before, not_after), key)
    }

    /// A leaf from caller-made `params` and `key` (e.g. with custom extensions).
    pub fn leaf_from(&self, params: &CertificateParams, key: &KeyPair) -> Leaf {
        let issuer = Issuer::from_params(&self.params, &self.key);
        let der = params.signed_by(key, &issuer).unwrap().der().to_vec();
        let mut chain = vec![der];
        if !self.is_root() {
            chain.push(self.der.clone());
            chain.extend(self.parents.iter().cloned());
        }
        Leaf {
            chain,
            key_der: key.serialize_der(),
        }
    }

    /// A 90-day leaf for `names`, issued yesterday.
    pub fn leaf(&self, names: &[&str]) -> Leaf {
        self.leaf_valid(names, 1, 90)
    }
}

/// Parameters of a server leaf for `names` valid over the given times.
pub fn leaf_params(
    names: &[&str],
    not_before: time::OffsetDateTime,
    not_after: time::OffsetDateTime,
) -> CertificateParams {
    let mut p =
        CertificateParams::new(names.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap();
    dn(&mut p, names.first().copied().unwrap_or("leaf"), None);
    p.is_ca = IsCa::ExplicitNoCa;
    p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    p.not_before = not_before;
    p.not_after = not_after;
    p
}

/// A fresh RSA-2048 key (ring cannot generate RSA; openssl does).
pub fn rsa_key() -> KeyPair {
    let out = Command::new("openssl")
        .args([
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
        ])
        .output()
        .expect("openssl genpkey");
    assert!(out.status.success(), "openssl genpkey failed");
    let pem = String::from_utf8(out.stdout).unwrap();
    KeyPair::from_pem_and_sign_algo(&pem, &rcgen::PKCS_RSA_SHA256).unwrap()
}

/// A self-signed leaf (no CA).
pub fn self_signed(names: &[&str]) -> Leaf {
    self_signed_with(names, &KeyPair::generate().unwrap())
}

/// A self-signed leaf with a given key.
pub fn self_signed_with(names: &[&str], key: &KeyPair) -> Leaf {
    let mut p =
        CertificateParams::new(names.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap();
    dn(&mut p, names[0], None);
    let der = p.self_signed(key).unwrap().der().to_vec();
    Leaf {
        chain: vec![der],
        key_der: key.serialize_der(),
    }
}

/// A server certificate chain (leaf first, root excluded) and its key.
#[derive(Clone)]
pub struct Leaf {
    /// DER chain, leaf first.
    pub chain: Vec<Vec<u8>>,
    /// PKCS#8 DER private key.
    pub key_der: Vec<u8>,
}

impl Leaf {
    /// The chain as PEM.
    pub fn pem(&self) -> String {
        self.chain.iter().map(|d| pem(d)).collect()
    }

    /// The private key as PKCS#8 PEM.
    pub fn key_pem(&self) -> String {
        use base64::Engine as _;
        let b = base64::engine::general_purpose::STANDARD.encode(&self.key_der);
        let lines: Vec<&str> = b
            .as_bytes()
            .chunks(64)
            .map(|c| std::str::from_utf8(c).unwrap_or(""))
            .collect();
        format!(
            "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
            lines.join("\n")
        )
    }
}

/// PEM-encodes one certificate.
pub fn pem(der: &[u8]) -> String {
    use base64::Engine as _;
    let b = base64::engine::general_purpose::STANDARD.encode(der);
    let mut s = String::from("-----BEGIN CERTIFICATE-----\n");
    for chunk in b.as_bytes().chunks(64) {
        s.push_str(std::str::from_utf8(chunk).unwrap());
        s.push('\n');
    }
    s.push_str("-----END CERTIFICATE-----\n");
    s
}
