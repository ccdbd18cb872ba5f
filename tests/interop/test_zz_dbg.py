import pytest, time
from conftest import http_client
from sparkplug import config, births, Mosquitto, Peer
pytestmark = pytest.mark.anyio

async def test_dbg(make_server, tmp_path):
    broker = Mosquitto(tmp_path / "persistent", persistent=True).start()
    peer = Peer(broker.port, persistent=True)
    server = make_server(config(broker.port, "cell-1"))
    try:
        nb, _ = births(peer, "cell-1")
        t0=time.time()
        broker.stop()
        print("stopped", time.time()-t0)
        mark = peer.mark()
        async with http_client(server.url) as c:
            _, ack = await c.ok("move_joints", {"joints": [0.2, -1.4, 0.3, -1.6, 0.1, 0.1]})
            await c.wait_done(ack["task_id"])
        print("done", time.time()-t0)
        broker.start()
        print("started", time.time()-t0)
        time.sleep(8)
        for m in peer.since(mark): print(m.at-t0, m.kind)
    finally:
        print("".join(server.log)[-5000:])
        peer.close(); broker.stop()
