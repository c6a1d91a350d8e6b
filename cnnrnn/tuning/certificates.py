"""TLS for a distributed search: a private CA and a chief certificate.

`cnnrnn tune --make-certs DIR --hosts HOST,...` writes `ca.pem` (give it to
every worker: `--tls-ca`), and `chief.pem` and `chief-key.pem` (the chief's:
`--tls-cert`, `--tls-key`), made with the `cryptography` package. The chief's
certificate names the hosts and addresses workers reach it by. The CA's
private key is not kept: no other certificate can be signed with it.
"""

import datetime
import ipaddress
import os
import pathlib

from cnnrnn.errors import CnnrnnError

CA_FILE = "ca.pem"
CERT_FILE = "chief.pem"
KEY_FILE = "chief-key.pem"
_DAYS = 365


def make_certificates(folder, hosts):
    """Writes a CA certificate and a chief certificate and key for `hosts`.

    Args:
        folder: path-like. Where to write; created if absent.
        hosts: list of str. Names and IP addresses of the chief; loopback
            (`localhost`, `127.0.0.1`) is always included.

    Returns:
        A dict of the paths written: `ca`, `cert`, `key`.

    Raises:
        CnnrnnError: if `folder` already holds certificates.
    """
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    folder = pathlib.Path(folder)
    paths = {"ca": CA_FILE, "cert": CERT_FILE, "key": KEY_FILE}
    paths = {name: folder / file for name, file in paths.items()}
    existing = [str(path) for path in paths.values() if path.exists()]
    if existing:
        raise CnnrnnError(
            f"{', '.join(existing)} already exist: choose another folder (certificates "
            "are never overwritten)."
        )
    now = datetime.datetime.now(datetime.timezone.utc)

    def certificate(subject, issuer, public_key, signing_key, extensions):
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(issuer)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=_DAYS))
        )
        for extension, critical in extensions:
            builder = builder.add_extension(extension, critical=critical)
        return builder.sign(signing_key, hashes.SHA256())

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "cnnrnn search CA")])
    ca = certificate(
        ca_name,
        ca_name,
        ca_key.public_key(),
        ca_key,
        [(x509.BasicConstraints(ca=True, path_length=0), True)],
    )
    chief_key = ec.generate_private_key(ec.SECP256R1())
    names = list(dict.fromkeys(["localhost", "127.0.0.1", *hosts]))
    chief = certificate(
        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[-1])]),
        ca_name,
        chief_key.public_key(),
        ca_key,
        [
            (x509.SubjectAlternativeName([_general_name(n) for n in names]), False),
            (x509.BasicConstraints(ca=False, path_length=None), True),
        ],
    )
    folder.mkdir(parents=True, exist_ok=True)
    pem = serialization.Encoding.PEM
    paths["ca"].write_bytes(ca.public_bytes(pem))
    paths["cert"].write_bytes(chief.public_bytes(pem))
    key = chief_key.private_bytes(
        pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    descriptor = os.open(paths["key"], os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(key)
    return paths


def read_pem(path, what, flag):
    """The bytes of a PEM file, or a one-line error naming it and the option."""
    path = pathlib.Path(path)
    try:
        contents = path.read_bytes()
    except OSError as error:
        raise CnnrnnError(
            f"{what} '{path}' cannot be read ({error.strerror}): pass the file "
            f"`cnnrnn tune --make-certs` wrote to {flag}."
        ) from None
    if b"-----BEGIN " not in contents:
        raise CnnrnnError(
            f"{what} '{path}' is not a PEM file: pass the file `cnnrnn tune "
            f"--make-certs` wrote to {flag}."
        )
    return contents


def _general_name(name):
    from cryptography import x509

    try:
        return x509.IPAddress(ipaddress.ip_address(name))
    except ValueError:
        return x509.DNSName(name)
