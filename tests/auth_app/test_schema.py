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
    assert paths["/api/v1/auth/login/"]["post"]["security"] == [{}]
    login = paths["/api/v1/auth/login/"]["post"]
    assert login["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/AuthSession"
    }
    assert "refused, not ignored" in paths["/api/v1/auth/me/"]["patch"]["description"]
