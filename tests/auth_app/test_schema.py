import pytest


@pytest.mark.django_db
def test_the_schema_documents_the_bearer_scheme_and_the_auth_endpoints(anon_client):
    schema = anon_client.get("/api/schema/", {"format": "json"}).json()

    assert schema["components"]["securitySchemes"]["jwtAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
    }
    paths = schema["paths"]
    assert {"jwtAuth": []} in paths["/api/v1/auth/me/"]["get"]["security"]
    # no token at all (not an optional one): generated clients sign in without an authenticated client
    assert "security" not in paths["/api/v1/auth/login/"]["post"]
    login = paths["/api/v1/auth/login/"]["post"]
    assert login["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/AuthSession"
    }
    assert "refused, not ignored" in paths["/api/v1/auth/me/"]["patch"]["description"]
