"""Outputs anywhere: runs written to memory://, and to real S3- and GCS-API servers."""

from __future__ import annotations

import threading

import httpx
import pytest

from nanobanana import NanoBanana
from nanobanana._runs.records import RecordManifest, read_any, record_name
from nanobanana._runs.store import ObjectOut, is_url, output

pytest.importorskip("obstore")


def test_urls_and_paths_are_told_apart(tmp_path) -> None:
    assert is_url("gs://b/run") and is_url("s3://b/x") and is_url("memory://t/x")
    assert not is_url("runs/fox") and not is_url("C:\\runs") and not is_url("file:///tmp/x")
    assert output("file:///tmp/x") == output("/tmp/x")
    with pytest.raises(Exception, match="names a bucket"):
        ObjectOut("s3:///no-bucket")


def test_generate_many_to_memory_store_resumes_from_records(fake_gemini, policy) -> None:
    url = "memory://many/run"
    prompts = [f"a lantern number {i}" for i in range(4)]
    with NanoBanana(api_key="t", base_url=fake_gemini.url, retry=policy) as nb:
        first = nb.generate_many(prompts, out_dir=url)
        again = nb.generate_many([*prompts, "one more lantern"], out_dir=url)
    assert (first.done, again.done_before, again.done) == (4, 4, 1)
    assert len(fake_gemini.generate_requests) == 5  # nothing paid twice
    out = ObjectOut(url)
    entries = read_any(out)
    assert len(entries) == 5 and all(e["status"] == "ok" for e in entries.values())
    for entry in entries.values():
        assert entry["uris"] == [f"{url}/{name}" for name in entry["images"]]
        assert out.read(entry["images"][0])[:3] == b"\xff\xd8\xff"
    assert str(first.manifest) == f"{url}/records/"


def test_the_gallery_works_from_the_records(fake_gemini, policy, tmp_path) -> None:
    from nanobanana._runs.gallery import write_gallery

    with NanoBanana(api_key="t", base_url=fake_gemini.url, retry=policy) as nb:
        nb.generate_many(["a teal kettle", "a red kettle"], out_dir="memory://gal/run")
    page = write_gallery("memory://gal/run", tmp_path / "index.html").read_text()
    assert page.count("data:image/jpeg;base64,") == 2 and "a teal kettle" in page
    assert "memory://gal/run/" in page


class TestS3:
    def test_moto_honours_if_none_match(self, s3_env) -> None:
        assert ObjectOut(s3_env).check_create_only()

    def test_two_writers_racing_for_one_name_one_wins(self, s3_env) -> None:
        out = ObjectOut(s3_env)
        barrier, won = threading.Barrier(8), []

        def write(n: int) -> None:
            barrier.wait()
            won.append((n, out.put_new("records/k.json", b"%d" % n)))

        threads = [threading.Thread(target=write, args=(n,)) for n in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        winners = [n for n, ok in won if ok]
        assert len(winners) == 1
        assert out.read("records/k.json") == b"%d" % winners[0]

    def test_a_record_is_never_overwritten_and_the_loser_is_kept(self, s3_env) -> None:
        out = ObjectOut(s3_env)
        a, b = RecordManifest(out), RecordManifest(out)  # two workers, both saw nothing
        entry = {"key": "k1", "status": "ok", "images": ["x.jpeg"], "cost": 0.1}
        assert a.append(dict(entry)) is True
        assert b.append(dict(entry, images=["x-2.jpeg"])) is False
        assert out.read_json(record_name("k1"))["images"] == ["x.jpeg"]
        assert next(iter(out.names("duplicates"))).startswith("duplicates/k1-")
        assert b.duplicates == 1 and RecordManifest(out).is_done("k1")

    def test_generate_many_to_s3(self, s3_env, fake_gemini, policy) -> None:
        with NanoBanana(api_key="t", base_url=fake_gemini.url, retry=policy) as nb:
            report = nb.generate_many(["a blue door", "a green door"], out_dir=s3_env)
            again = nb.generate_many(["a blue door", "a green door"], out_dir=s3_env)
        assert (report.done, again.done_before, again.done) == (2, 2, 0)
        names = sorted(ObjectOut(s3_env).names("records"))
        assert len(names) == 2 and all(n.endswith(".json") for n in names)


class TestGCS:
    def test_the_emulator_ignores_generation_preconditions(self, gcs_server) -> None:
        """gcp-storage-emulator overwrites on ifGenerationMatch=0: create-only is proved on S3.

        (Its XML API also answers uploads with no ETag, or 501, so obstore cannot write to it.)
        If this starts failing, the emulator learnt preconditions: test GCS like S3.
        """
        upload = f"{gcs_server}/upload/storage/v1/b/nb-runs/o"
        params = {"uploadType": "media", "name": "probe.json", "ifGenerationMatch": "0"}
        codes = [httpx.post(upload, params=params, content=b"%d" % n).status_code for n in (1, 2)]
        assert codes == [200, 200]  # the real GCS answers 412 to the second
        got = httpx.get(f"{gcs_server}/download/storage/v1/b/nb-runs/o/probe.json",
                        params={"alt": "media"})  # fmt: skip
        assert got.content == b"2"


def test_a_pipelines_local_folder_is_read_from_its_records(fake_gemini, policy, tmp_path) -> None:
    """A folder written as a store (a pipeline on one machine): the gallery reads its records."""
    from nanobanana._runs.gallery import write_gallery

    folder = tmp_path / "run"
    with NanoBanana(api_key="t", base_url=fake_gemini.url, retry=policy) as nb:
        # as `nanobanana.beam` writes a local folder: a store over it
        nb.generate_many(["a green kettle", "a blue kettle"], out_dir=ObjectOut(folder.as_uri()))
    assert not (folder / "manifest.jsonl").exists() and (folder / "records").is_dir()
    entries = read_any(folder)
    assert sorted(e["prompt"] for e in entries.values()) == ["a blue kettle", "a green kettle"]
    page = write_gallery(folder).read_text()
    assert page.count("data:image/jpeg;base64,") == 2 and "a green kettle" in page


def test_records_are_written_off_the_event_loop(fake_gemini, policy, monkeypatch) -> None:
    import asyncio

    from nanobanana import AsyncNanoBanana

    on_loop: list[bool] = []
    put_new = ObjectOut.put_new

    def watched(self: ObjectOut, name: str, data: bytes) -> bool:
        try:
            asyncio.get_running_loop()
            on_loop.append(True)
        except RuntimeError:
            on_loop.append(False)
        return put_new(self, name, data)

    monkeypatch.setattr(ObjectOut, "put_new", watched)

    async def main() -> None:
        async with AsyncNanoBanana(api_key="t", base_url=fake_gemini.url, retry=policy) as nb:
            await nb.generate_many(["a lamp", "a chair"], out_dir="memory://loop/run")

    asyncio.run(main())
    assert len(on_loop) == 4 and not any(on_loop)  # 2 images and 2 records, all in workers


def test_many_records_are_read_back_concurrently_in_name_order() -> None:
    from nanobanana._runs import records

    out = ObjectOut("memory://many-records/run")
    for i in range(300):
        records.write_record(out, {"key": f"k{i:04d}", "status": "ok", "cost": 0.01})
    records.write_shard(out, "batch-x", [{"key": f"s{i}", "status": "ok"} for i in range(5)])
    manifest = RecordManifest(out)
    assert len(manifest.index) == 305 and round(manifest.spent, 2) == 3.0
    order = list(read_any(out))  # records/batch-x.jsonl sorts before records/k0000.json
    assert order[:6] == ["s0", "s1", "s2", "s3", "s4", "k0000"] and order[-1] == "k0299"
