import pytest


@pytest.mark.django_db
def test_schema_and_docs_are_served(anon_client):
    assert anon_client.get("/api/schema/").status_code == 200
    docs = anon_client.get("/api/docs/")
    assert docs.status_code == 200
    assert b"swagger" in docs.content.lower()


@pytest.mark.django_db
def test_unknown_api_path_is_a_json_404(anon_client):
    response = anon_client.get("/api/v1/does-not-exist/")
    assert response.status_code == 404
    assert response.json() == {"error": {"code": "not_found", "message": "Not found.", "fields": {}}}
