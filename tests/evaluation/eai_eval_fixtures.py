"""A few rows of each dataset EAI-Eval's harness tasks read, in the hub dataset's columns, written where
``evaluate.lm_eval.dataset_paths`` can point them (tests only: the harness's own suite, offline).

SuperGLUE's COPA, WiC, WSC and Winogrande and HellaSwag are T0-Eval's too: their rows come from
``tests/evaluation/test_t0_eval.py``, under the same keys, so one mapping serves both suites.
"""

from __future__ import annotations

import json
from pathlib import Path

ROWS = 8
NAMES = ["Ana", "Bram", "Corin", "Dara"]


def _mc(i: int, key: str = "label") -> dict:
    """A four-way question: its stem, options and answer key."""
    name = NAMES[i % 4]
    return {"question": f"Where does {name} keep the bread?",
            "choices": {"text": ["in the box", "on the roof", "in the river", "under the hat"],
                        "label": ["A", "B", "C", "D"]},
            key: "ABCD"[i % 4]}  # fmt: skip


def _pair(i: int, first: str, second: str) -> dict:
    name = NAMES[i % 4]
    return {first: f"{name} lives in Kelso.", second: f"{name} lives by the sea.", "label": i % 2, "idx": i}


ROWS_OF = {  # file (relative to the fixtures' root) -> row i, in the hub dataset's columns
    "super_glue/boolq/validation.jsonl": lambda i: {
        "question": "is the mill open", "passage": f"{NAMES[i % 4]} works at the mill.", "idx": i, "label": i % 2},
    "super_glue/multirc/validation.jsonl": lambda i: {
        "paragraph": f"{NAMES[i % 4]} works at the mill.", "question": "Where does she work?",
        "answer": "at the mill", "idx": {"paragraph": 0, "question": i, "answer": i}, "label": i % 2},
    "glue/mrpc/validation.jsonl": lambda i: _pair(i, "sentence1", "sentence2"),
    "glue/rte/validation.jsonl": lambda i: _pair(i, "sentence1", "sentence2"),
    "glue/wnli/validation.jsonl": lambda i: _pair(i, "sentence1", "sentence2"),
    "glue/qqp/validation.jsonl": lambda i: _pair(i, "question1", "question2"),
    "glue/qnli/validation.jsonl": lambda i: _pair(i, "question", "sentence"),
    "glue/sst2/validation.jsonl": lambda i: {"sentence": "a warm, funny film", "label": i % 2, "idx": i},
    "arc_challenge.jsonl": lambda i: {"id": f"a{i}", **_mc(i, "answerKey")},
    "arc_easy.jsonl": lambda i: {"id": f"e{i}", **_mc(i, "answerKey")},
    "openbookqa.jsonl": lambda i: {"id": f"o{i}", "question_stem": _mc(i)["question"],
                                   "choices": _mc(i)["choices"], "answerKey": "ABCD"[i % 4]},
    "headqa.jsonl": lambda i: {
        "name": "Cuaderno_2013_1_B", "year": "2013", "category": "biology", "qid": i,
        "qtext": "Which organ pumps blood?", "ra": 1 + i % 4,
        "answers": [{"aid": k + 1, "atext": t} for k, t in enumerate(["heart", "lung", "skin", "bone"])]},
    "lambada.jsonl": lambda i: {"text": f"{NAMES[i % 4]} went to the market and bought some bread"},
    "logiqa.jsonl": lambda i: {
        "label": "abcd"[i % 4], "context": f"{NAMES[i % 4]} is taller than Bram.", "question": "Who is tallest?",
        "options": ["Ana", "Bram", "Corin", "Dara"]},
    "mathqa.jsonl": lambda i: {
        "Problem": "what is 2 + 3 ?", "Rationale": "2 + 3 = 5", "options": "a ) 4 , b ) 5 , c ) 6 , d ) 7 , e ) 8",
        "correct": "abcde"[i % 5], "annotated_formula": "add(2, 3)", "linear_formula": "add(n0,n1)|",
        "category": "general"},
    "mc_taco.jsonl": lambda i: {
        "sentence": f"{NAMES[i % 4]} baked bread.", "question": "How long did it take?", "answer": "two hours",
        "label": i % 2, "category": "Event Duration"},
    "piqa.jsonl": lambda i: {"goal": "Keep bread fresh", "sol1": "Put it in a box.", "sol2": "Put it in water.",
                             "label": i % 2},
    "prost.jsonl": lambda i: {
        "A": "the ball", "B": "the book", "C": "the egg", "D": "the cup", "context": "Four things fall.",
        "ex_question": "Which breaks?", "label": i % 4, "name": "breaking", "group": "breaking",
        "question": "Which breaks?"},
    "pubmedqa.jsonl": lambda i: {
        "QUESTION": "Does bread help?", "CONTEXTS": ["Bread was eaten.", "People felt well."],
        "LABELS": ["BACKGROUND", "RESULTS"], "MESHES": ["Bread"], "YEAR": "2001",
        "reasoning_required_pred": "yes", "reasoning_free_pred": "yes",
        "final_decision": ["yes", "no", "maybe"][i % 3], "LONG_ANSWER": "Maybe."},
    "race.jsonl": lambda i: {
        "example_id": f"r{i}", "article": f"{NAMES[i % 4]} went to Kelso to buy bread.",
        "problems": str([{"question": "Who went?", "answer": "A", "options": [NAMES[i % 4], "x", "y", "z"]},
                         {"question": "Why?", "answer": "ABCD"[i % 4], "options": ["bread", "milk", "tea", "ink"]}])},
    "sciq.jsonl": lambda i: {
        "question": "What pumps blood?", "distractor1": "lung", "distractor2": "skin", "distractor3": "bone",
        "correct_answer": "heart", "support": "The heart pumps blood."},
    "webqs.jsonl": lambda i: {"url": f"http://example.org/{i}", "question": f"where does {NAMES[i % 4]} live?",
                              "answers": ["Kelso"]},
}  # fmt: skip

DATASET_PATHS = {  # hub name as the harness task writes it -> fixture file or folder (relative)
    "aps/super_glue": "super_glue",  # boolq, multirc (and T0-Eval's cb, rte, wsc.fixed, copa, wic)
    "nyu-mll/glue": "glue",
    "allenai/ai2_arc/ARC-Challenge": "arc_challenge.jsonl",
    "allenai/ai2_arc/ARC-Easy": "arc_easy.jsonl",
    "allenai/openbookqa/main": "openbookqa.jsonl",
    "EleutherAI/headqa/en": "headqa.jsonl",
    "EleutherAI/lambada_openai/default": "lambada.jsonl",
    "EleutherAI/logiqa/logiqa": "logiqa.jsonl",
    "regisss/math_qa": "mathqa.jsonl",
    "CogComp/mc_taco": "mc_taco.jsonl",
    "baber/piqa": "piqa.jsonl",
    "json": "prost.jsonl",  # PROST reads the hub's jsonl through the json builder
    "bigbio/pubmed_qa/pubmed_qa_labeled_fold0_source": "pubmedqa.jsonl",
    "EleutherAI/race/high": "race.jsonl",
    "allenai/sciq": "sciq.jsonl",
    "stanfordnlp/web_questions": "webqs.jsonl",
}


def write_eai_eval_datasets(root: Path) -> dict[str, str]:
    """Write the fixtures under ``root``; -> ``dataset_paths`` for EAI-Eval's datasets (less those
    T0-Eval's fixtures hold: COPA, WiC, WSC, Winogrande, HellaSwag)."""
    for relative, row in ROWS_OF.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(json.dumps(row(i)) + "\n" for i in range(ROWS)))
    return {key: str(root / relative) for key, relative in DATASET_PATHS.items()}
