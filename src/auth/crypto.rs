//! Randomness, PKCE (RFC 7636, `S256`) and the `private_key_jwt` client assertion (RFC 7523,
//! `ES256` or `RS256`). The primitives come from `ring` (the system's generator, SHA-256, ECDSA
//! P-256 and RSA PKCS#1 v1.5 signatures; already in the build as rustls's provider) and `base64`.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::rand::SecureRandom as _;

/// `n` random bytes from the system, base64url without padding.
pub(crate) fn random_string(n: usize) -> Result<String, String> {
    let mut bytes = vec![0u8; n];
    ring::rand::SystemRandom::new().fill(&mut bytes).map_err(|_| "no system randomness".to_string())?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

/// A PKCE pair: the verifier stays here, the challenge goes in the authorization URL.
pub(crate) struct Pkce {
    /// 43 characters of base64url (32 random bytes).
    pub verifier: String,
    /// `BASE64URL(SHA256(verifier))`.
    pub challenge: String,
}

impl Pkce {
    pub(crate) fn new() -> Result<Pkce, String> {
        let verifier = random_string(32)?;
        let challenge = s256(&verifier);
        Ok(Pkce { verifier, challenge })
    }
}

/// `BASE64URL(SHA256(text))`.
pub(crate) fn s256(text: &str) -> String {
    URL_SAFE_NO_PAD.encode(ring::digest::digest(&ring::digest::SHA256, text.as_bytes()))
}

/// The signing algorithms of `private_key_jwt`.
pub(crate) const ALGORITHMS: [&str; 2] = ["ES256", "RS256"];

/// The algorithm for a key when none is configured: `RS256` for an RSA key, else `ES256`.
pub(crate) fn default_algorithm(private_key_pem: &str) -> &'static str {
    if private_key_pem.contains("BEGIN RSA PRIVATE KEY") || rsa_key(private_key_pem).is_ok() {
        "RS256"
    } else {
        "ES256"
    }
}

/// The DER inside a PEM (its base64 lines between the `-----` markers).
fn pem_der(pem: &str) -> Result<Vec<u8>, String> {
    let body: String = pem.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with("-----")).collect();
    base64::engine::general_purpose::STANDARD.decode(body).map_err(|_| "the private key is not a PEM".to_string())
}

/// An RSA private key from a PEM: PKCS#8 (`BEGIN PRIVATE KEY`) or PKCS#1 (`BEGIN RSA PRIVATE
/// KEY`).
fn rsa_key(pem: &str) -> Result<ring::rsa::KeyPair, String> {
    let der = pem_der(pem)?;
    let key = if pem.contains("BEGIN RSA PRIVATE KEY") {
        ring::rsa::KeyPair::from_der(&der)
    } else {
        ring::rsa::KeyPair::from_pkcs8(&der)
    };
    key.map_err(|e| format!("the private key is not a usable RSA key ({e})"))
}

/// A signed `client_assertion` (RFC 7523 §2.2): `iss` = `sub` = the client id, `aud` = the
/// authorization server's issuer, a fresh `jti`, five minutes of validity. `ES256` with a
/// PKCS#8 PEM P-256 key (holding its public key), or `RS256` with a PKCS#8 or PKCS#1 PEM RSA key (2048 bits or more).
pub(crate) fn client_assertion(
    private_key_pem: &str,
    algorithm: &str,
    client_id: &str,
    audience: &str,
) -> Result<String, String> {
    if !ALGORITHMS.contains(&algorithm) {
        return Err(format!("signing algorithm `{algorithm}` is not supported ({} are)", ALGORITHMS.join(", ")));
    }
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    let header = serde_json::json!({"alg": algorithm, "typ": "JWT"});
    let claims = serde_json::json!({
        "iss": client_id, "sub": client_id, "aud": audience,
        "iat": now, "exp": now + 300, "jti": random_string(16)?,
    });
    let signing_input =
        format!("{}.{}", URL_SAFE_NO_PAD.encode(header.to_string()), URL_SAFE_NO_PAD.encode(claims.to_string()));
    let signature = if algorithm == "RS256" {
        let key = rsa_key(private_key_pem)?;
        let mut signature = vec![0u8; key.public().modulus_len()];
        key.sign(
            &ring::signature::RSA_PKCS1_SHA256,
            &ring::rand::SystemRandom::new(),
            signing_input.as_bytes(),
            &mut signature,
        )
        .map_err(|_| "RSA signing failed".to_string())?;
        signature
    } else {
        // ring takes PKCS#8 with the public key inside (what OpenSSL and most tools write).
        let rng = ring::rand::SystemRandom::new();
        let key = ring::signature::EcdsaKeyPair::from_pkcs8(
            &ring::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
            &pem_der(private_key_pem)?,
            &rng,
        )
        .map_err(|e| format!("the private key is not a PKCS#8 PEM P-256 key ({e})"))?;
        // FIXED: the JWS form, r || s, 64 bytes (RFC 7518 §3.4).
        let signature = key.sign(&rng, signing_input.as_bytes()).map_err(|_| "ECDSA signing failed".to_string())?;
        signature.as_ref().to_vec()
    };
    Ok(format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(signature)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s256_matches_rfc_7636_appendix_b() {
        assert_eq!(s256("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"), "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
        let p = Pkce::new().unwrap();
        assert_eq!(p.verifier.len(), 43);
        assert_eq!(p.challenge, s256(&p.verifier));
        assert_ne!(Pkce::new().unwrap().verifier, p.verifier);
    }

    const P256_PKCS8: &str = "-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgc/uOwHTRAxA4zXQ+
C+/KNeJisAcC0bvFZe+FJpmeJv6hRANCAAT1aoYSxga3tJmEiJWeXaA0vgWDQU1q
w20qOMFd1tiN8tCDkQIK0kG5e4d+xSmZAEijGxALkWQwZmGrskCBC+Ev
-----END PRIVATE KEY-----
";

    #[test]
    fn es256_assertion_verifies_with_the_keys_public_half() {
        assert_eq!(default_algorithm(P256_PKCS8), "ES256");
        let jwt = client_assertion(P256_PKCS8, "ES256", "client", "https://as.example").unwrap();
        let (signed, signature) = jwt.rsplit_once('.').unwrap();
        let signature = URL_SAFE_NO_PAD.decode(signature).unwrap();
        assert_eq!(signature.len(), 64, "JWS ES256 is r || s");
        let rng = ring::rand::SystemRandom::new();
        let key = ring::signature::EcdsaKeyPair::from_pkcs8(
            &ring::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
            &pem_der(P256_PKCS8).unwrap(),
            &rng,
        )
        .unwrap();
        let public = ring::signature::UnparsedPublicKey::new(
            &ring::signature::ECDSA_P256_SHA256_FIXED,
            ring::signature::KeyPair::public_key(&key).as_ref(),
        );
        assert!(public.verify(signed.as_bytes(), &signature).is_ok());
        let err = client_assertion("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", "ES256", "c", "a");
        assert!(err.unwrap_err().starts_with("the private key is not a PKCS#8 PEM P-256 key"));
    }
}
