from tests.conftest import form_data, make_event


def test_register_through_the_form_lands_on_the_private_page(client, db):
    event = make_event(db)
    db.commit()
    response = client.post(f"/events/{event.slug}/register", data=form_data(event))
    assert response.status_code == 303
    page = client.get(response.headers["Location"])
    assert 'data-status="confirmed"' in page.text
