from tests.conftest import World, login


def test_login_and_home(world: World, client) -> None:
    world.org("BUREAU")
    world.user("alice", "BUREAU", "platform_admin")
    login(client, "alice")
    assert client.get("/").status_code == 200
