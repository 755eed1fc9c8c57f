"""The engine tier's own checks must catch what they claim to (pure, no Docker needed)."""

from testing import dockerlib as dl


def test_secret_looking_flags_credential_values():
    texts = [
        "POSTGRES_PASSWORD=hunter2",
        "/bin/sh -c #(nop)  ENV API_TOKEN=abc123",
        "DATABASE_URL=postgresql+psycopg://todo:pw@postgres:5432/todo",
        "-----BEGIN RSA PRIVATE KEY-----",
    ]
    assert dl.secret_looking(texts) == texts


def test_secret_looking_passes_file_references_and_empty_values():
    texts = [
        "DATABASE_URL_FILE=/run/secrets/database_url",
        "POSTGRES_PASSWORD=",
        'RUN echo "PASSWORD=$PASSWORD"',
        "REDIS_URL=redis://redis:6379/0",
        "PATH=/opt/venv/bin:/usr/local/bin",
    ]
    assert dl.secret_looking(texts) == []
