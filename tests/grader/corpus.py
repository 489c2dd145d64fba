"""The submissions corpus: its manifests, and grading it in two processes."""
import multiprocessing
import tomllib
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

CORPUS = Path(__file__).parents[2] / "submissions"


def corpus(verdicts: tuple[str, ...]) -> dict[str, dict]:
    """name -> manifest, for the submissions whose verdict is one of `verdicts`."""
    found = {}
    for manifest in sorted(CORPUS.glob("*/manifest.toml")):
        data = tomllib.loads(manifest.read_text())
        if data.get("verdict") in verdicts:
            found[manifest.parent.name] = data
    return found


def grade_one(name: str, profile: str) -> dict:
    from grader import rubric, submission
    from grader.grade import grade
    from grader.profiles import PROFILES
    return grade(submission.read(CORPUS / name), rubric.load(), PROFILES[profile]).to_json()


def grade_all(manifests: dict[str, dict]) -> dict[str, dict]:
    with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = {name: pool.submit(grade_one, name, m.get("profile", "ucla-w21")) for name, m in manifests.items()}
        return {name: f.result() for name, f in futures.items()}
