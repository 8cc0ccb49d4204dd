#!/usr/bin/env python3
"""Writes the seed corpora in fuzz/corpus/<harness>/ (committed; rerun after changing this file).

Seeds are the requests and configs the unit tests use (raw string literals taken from the test
sources), the example models' configs, and hand-written edge cases. File names are the content's
SHA-1, as libFuzzer names its own finds, so reruns are idempotent. Reproducers of bugs found by
fuzzing are added by hand as corpus/<harness>/crash-<what> and are kept by this script.
"""
import hashlib
import json
import os
import re
import struct
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "fuzz", "corpus")


def raw_strings(path):
    """The C++ raw string literals of a file, adjacent ones concatenated."""
    text = open(os.path.join(ROOT, path), encoding="utf-8").read()
    literal = re.compile(r'R"(\w*)\((.*?)\)\1"', re.S)
    result, pos, current = [], 0, None
    for m in literal.finditer(text):
        between = text[pos:m.start()]
        if current is not None and between.strip() == "":
            current += m.group(2)
        else:
            if current is not None:
                result.append(current)
            current = m.group(2)
        pos = m.end()
    if current is not None:
        result.append(current)
    return result


def write(harness, items):
    folder = os.path.join(OUT, harness)
    os.makedirs(folder, exist_ok=True)
    keep = {f for f in os.listdir(folder) if f.startswith("crash-") or f.startswith("regress-")}
    for f in os.listdir(folder):
        if f not in keep:
            os.remove(os.path.join(folder, f))
    seen = set()
    for item in items:
        data = item.encode("utf-8") if isinstance(item, str) else bytes(item)
        name = hashlib.sha1(data).hexdigest()
        if name in seen:
            continue
        seen.add(name)
        with open(os.path.join(folder, name), "wb") as f:
            f.write(data)
    print(f"{harness}: {len(seen)} seeds (+{len(keep)} reproducers)")


def kserve_json():
    seeds = [s for s in raw_strings("src/protocol/kserve_codec_test.cc") if s.lstrip().startswith(("{", "["))]
    flat = ",".join(["0.1"] * 784)
    seeds += [
        '{"inputs":[{"name":"INPUT__0","shape":[1,784],"datatype":"FP32","data":[%s]}]}' % flat,
        '{"id":"r1","inputs":[{"name":"input_ids","datatype":"INT64","shape":[1,4],"data":[5,6,7,8]},'
        '{"name":"attention_mask","datatype":"INT64","shape":[1,4],"data":[1,1,1,1]}]}',
        '{"inputs":[{"name":"pixels","shape":[2,64],"datatype":"FP32","data":[%s]}],'
        '"outputs":[{"name":"logits","parameters":{"binary_data":true}}]}' % ",".join(["0.5"] * 128),
        '{"inputs":[{"name":"x","shape":[3],"datatype":"FP16","data":[1,"NaN","-Infinity"]}]}',
        '{"inputs":[{"name":"x","shape":[3],"datatype":"BF16","data":[65504,1e39,-0.0]}]}',
        '{"inputs":[{"name":"x","shape":[2],"datatype":"UINT64","data":[18446744073709551615,0]}]}',
        '{"inputs":[{"name":"x","shape":[2],"datatype":"INT64","data":[-9223372036854775808,9223372036854775807]}]}',
        '{"inputs":[{"name":"x","shape":[2],"datatype":"INT32","data":[2147483648,0]}]}',
        '{"inputs":[{"name":"x","shape":[1,1,1,1,1,1,1,1],"datatype":"INT8","data":[[[[[[[[1]]]]]]]]}]}',
        '{"inputs":[{"name":"x","shape":[0],"datatype":"BYTES","data":[]}]}',
        '{"inputs":[{"name":"x","shape":[1],"datatype":"BYTES","data":["\\ud83d\\ude00\\u0000"]}]}',
        '{"inputs":[{"name":"x","shape":[268435456],"datatype":"FP64","data":[1]}]}',
        '{"inputs":[{"name":"x","shape":[268435457],"datatype":"UINT8","data":[]}]}',
        '{"inputs":[{"name":"x","shape":[65536,65536],"datatype":"BOOL","data":[]}]}',
        '{"inputs":[{"name":"x","shape":[9223372036854775807],"datatype":"FP32","data":[]}]}',
        '{"inputs":[{"name":"x","shape":[-9223372036854775808],"datatype":"FP32","data":[]}]}',
        '{"inputs":[{"name":"x","shape":[1],"datatype":"FP32","data":[1e400]}]}',
        '{"inputs":[{"name":"x","shape":[1],"datatype":"FP32","data":[3.5e38]}]}',
        '{"inputs":[{"name":"x","shape":[1],"datatype":"FP32","data":["Infinity"]}]}',
        '{"parameters":{"timeout":9223372036854775807,"priority":2147483648},"inputs":[]}',
        '{"parameters":{"timeout":18446744073709551615},"inputs":[]}',
        '{"inputs":[{"name":"x","shape":[1],"datatype":"FP32","data":[1]}],"inputs":[]}',
        '{"inputs":[{"name":"","shape":[1],"datatype":"FP32","data":[1]}]}',
        '{"inputs":[{"name":"x","shape":[1],"datatype":"FP32","data":[1],"name":"y"}]}',
        '[' * 100 + ']' * 100,
        '{"inputs":' + '[' * 1100 + ']' * 1100 + '}',
        '{"inputs":[{"name":"x","shape":[1],"datatype":"FP32","data":' + '[' * 40 + '1' + ']' * 40 + '}]}',
        '',
        '{',
        '{"inputs":[{"name":"x","shape":[1],"datatype":"FP32","data":[1]}]}   \n\t ',
        '\xef\xbb\xbf{"inputs":[]}',
    ]
    return seeds


def kserve_binary():
    def item(json_text, raw, header=None):
        j = json_text.encode()
        n = len(j) if header is None else header
        return struct.pack("<H", n) + j + raw

    seeds = []
    for s in raw_strings("src/protocol/kserve_codec_test.cc"):
        if "binary_data_size" in s and s.startswith("{"):
            m = re.search(r'"binary_data_size":(\d+)', s)
            size = int(m.group(1)) if m else 0
            seeds.append(item(s, bytes(range(256))[: min(size, 256)] * (1 + size // 256)))
    seeds += [
        item('{"inputs":[{"name":"a","shape":[2],"datatype":"INT16","parameters":{"binary_data_size":4}},'
             '{"name":"j","shape":[1],"datatype":"INT16","data":[9]},'
             '{"name":"b","shape":[1],"datatype":"UINT8","parameters":{"binary_data_size":1}}]}',
             b"\x01\x00\x02\x00\x05"),
        item('{"inputs":[{"name":"x","shape":[2],"datatype":"BYTES","parameters":{"binary_data_size":11}}]}',
             b"\x02\x00\x00\x00hi\x01\x00\x00\x00!"),
        item('{"inputs":[{"name":"x","shape":[1],"datatype":"BYTES","parameters":{"binary_data_size":4}}]}',
             b"\xff\xff\xff\xff"),
        item('{"inputs":[{"name":"x","shape":[1],"datatype":"BYTES","parameters":{"binary_data_size":8}}]}',
             b"\xf0\xff\xff\x7fabcd"),
        item('{"inputs":[{"name":"x","shape":[0],"datatype":"FP32","parameters":{"binary_data_size":0}}]}', b""),
        item('{"inputs":[{"name":"x","shape":[1],"datatype":"FP64","parameters":{"binary_data_size":8}}],'
             '"parameters":{"binary_data_output":true}}', struct.pack("<d", float("nan"))),
        item('{"inputs":[{"name":"x","shape":[2],"datatype":"FP16","parameters":{"binary_data_size":4}}],'
             '"outputs":[{"name":"x","parameters":{"binary_data":true}}]}', b"\x00\x7c\x01\x7c"),
        item('{"inputs":[{"name":"x","shape":[1],"datatype":"BOOL","parameters":{"binary_data_size":1}}]}', b"\x02"),
        item('{"inputs":[{"name":"x","shape":[4],"datatype":"UINT8","parameters":{"binary_data_size":18446744073709551615}}]}',
             b"abcd"),
        item('{"inputs":[{"name":"x","shape":[4],"datatype":"UINT8","parameters":{"binary_data_size":4}}]}', b"ab"),
        item('{"inputs":[{"name":"x","shape":[4],"datatype":"UINT8","parameters":{"binary_data_size":4}}]}', b"abcdef"),
        item('{"inputs":[]}', b"trailing", header=5),
        item('{"inputs":[]}', b"", header=0),
        item('{"inputs":[]}', b"", header=0xffff),
        item('{"inputs":[]}', b"", header=0xfff0),
        item('{"inputs":[]}', b"", header=200),
        item('{"inputs":[{"name":"x","shape":[268435456],"datatype":"FP64","parameters":{"binary_data_size":8}}]}',
             b"\x00" * 8),
    ]
    return seeds


def predict():
    # First byte: dims index (low 4 bits, see kDims in predict_fuzzer.cc), batched (bit 4),
    # datatype (bits 5-7: FP32, FP32, INT64, BOOL, BYTES, FP16, UINT8, FP64).
    def item(selector, body):
        return bytes([selector]) + body.encode()

    FP32, INT64, BOOL, BYTES, FP16, UINT8, FP64 = 0, 2 << 5, 3 << 5, 4 << 5, 5 << 5, 6 << 5, 7 << 5
    B = 1 << 4
    flat = ",".join(["0.1"] * 784)
    seeds = []
    for s in raw_strings("src/protocol/predict_codec_test.cc"):
        if s.startswith(("{", "[")) and "prediction" not in s:
            for sel in (7 | B, 9 | B, 1 | B):
                seeds.append(item(sel, s))
    seeds += [
        item(4 | B, '{"data": [%s]}' % flat),
        item(4 | B, '{"data": [[%s],[%s]]}' % (flat, flat)),
        item(5 | B, '{"data": [%s], "id": "x"}' % ",".join(["0.5"] * 64)),
        item(11 | B, '{"data": [%s]}' % ",".join(["0"] * 12)),
        item(0, '{"data": 1}'),
        item(0 | B, '{"data": []}'),
        item(1 | B, '{"data": []}'),
        item(9 | B, '{"data": [[]]}'),
        item(9 | B, '{"data": [[],[]]}'),
        item(15 | B, '{"data": [1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24]}'),
        item(15 | B, '{"data": [[[[[[1]]]]]]}'),
        item(13 | B, '{"data": [[1,2,3]]}'),
        item(3 | BOOL | B, '{"data": [true,false,true,true]}'),
        item(3 | BYTES | B, '{"data": ["a","b","\\u0000","\\ud800"]}'),
        item(3 | FP16 | B, '{"data": [65520, "NaN", "Infinity", -1e-8]}'),
        item(3 | UINT8 | B, '{"data": [0, 255, 256, -1]}'),
        item(3 | FP64 | B, '{"data": [1e308, 2e308, -0.0, 5e-324]}'),
        item(1 | INT64 | B, '{"data": [9223372036854775807, -9223372036854775808]}'),
        item(1 | B, '{"data": [' + "[" * 1000 + "]" * 1000 + ']}'),
        item(1 | B, '{"data": ' + "[" * 64 + "1" + "]" * 64 + '}'),
        item(1 | B, '{"id": "only"}'),
        item(1 | B, '{"data": [1], "data": [2]}'),
        item(1 | B, ''),
    ]
    return seeds


def config():
    seeds = [s for s in raw_strings("src/config/model_config_test.cc") if "\n" in s or ":" in s]
    seeds += raw_strings("src/config/test_configs.h")
    models = os.path.join(ROOT, "examples", "models")
    for m in sorted(os.listdir(models)):
        path = os.path.join(models, m, "config.pbtxt")
        if os.path.exists(path):
            seeds.append(open(path, encoding="utf-8").read())
    seeds += [
        'name: "ab"\nrouting {\n  variant { name: "control" model: "mlp" version: "1" weight: 1 }\n'
        '  variant { name: "candidate" model: "mlp" version: "2" weight: 3 }\n'
        '  variant { name: "mirror" model: "mlp-next" shadow: true }\n  sticky_header: "X-Routing-Key"\n}\n',
        'max_batch_size: 64\ndynamic_batching {\n  max_queue_delay_microseconds: 500\n'
        '  preferred_batch_size: [ 16, 32 ]\n  preserve_ordering: false\n  priority_levels: 2\n'
        '  default_priority_level: 2\n  default_queue_policy { max_queue_size: 256  default_timeout_microseconds: 100000\n'
        '                         allow_timeout_override: true  timeout_action: REJECT }\n}\n'
        'instance_group [ { count: 2  kind: KIND_CPU } ]\n'
        'parameters { key: "INTRA_OP_THREAD_COUNT" value { string_value: "1" } }\n'
        'parameters { key: "PAD_INPUTS" value { string_value: "input_ids:0,attention_mask:0" } }\n',
        'input { name: "x" data_type: TYPE_FP32 dims: [2, 6] reshape { shape: [3, 4] } }',
        'input { name: "x" data_type: TYPE_FP32 dims: [4294967296, 4294967296] reshape { shape: [1] } }',
        'input { name: "x" data_type: TYPE_FP32 dims: [9223372036854775807, 9223372036854775807, 2] }',
        'input { name: "x" data_type: TYPE_FP32 dims: [-9223372036854775808] }',
        'max_batch_size: 2147483647\nmodel_warmup { name: "w" batch_size: 4294967295 inputs { key: "x" value { '
        'data_type: TYPE_FP32 dims: [9223372036854775807] zero_data: true } } }',
        'max_batch_size: -2147483648',
        'version_policy { specific { versions: [1, 0, -9223372036854775808] } }',
        'version_policy { latest { num_versions: 4294967295 } }',
        'dynamic_batching { max_queue_delay_microseconds: 18446744073709551615 '
        'default_queue_policy { default_timeout_microseconds: 18446744073709551615 } }',
        'max_batch_size: 8 dynamic_batching { priority_levels: 4294967295 default_priority_level: 4294967295 '
        'priority_queue_policy { key: 4294967295 value { max_queue_size: 1 } } }',
        'max_batch_size: 8 dynamic_batching { preferred_batch_size: [0, 9, -1] }',
        'instance_group [ { count: -1 kind: KIND_CPU gpus: [ -1 ] } ]',
        'routing { variant { name: "a" model: "m" weight: nan } variant { name: "b" model: "m" weight: inf } }',
        'routing { variant { name: "a" model: "m" weight: -0 } }',
        'parameters { key: "x" value { string_value: "\\377\\376" } }',
        'name: "\\xff"',
        'input [ { name: "x" data_type: TYPE_STRING dims: [ -1 ] }, { name: "x" data_type: 99 dims: [1] } ]',
        'optimization { cuda { graphs: true } } sequence_batching { }',
        'dynamic_batching {} sequence_batching {}',
        'name: "m"\n# comment\nplatform: "pytorch_libtorch"\t\tmax_batch_size:\t8\n',
        'input { ' * 50 + '}' * 50,
        'name: "unterminated',
        '',
        '\t\t\t\tname: 5',
    ]
    return seeds


def http():
    # First byte: bytes per read (0 = all at once).
    def item(read, text):
        return bytes([read]) + (text.encode("latin-1") if isinstance(text, str) else text)

    body = json.dumps({"inputs": [{"name": "x", "shape": [1], "datatype": "FP32", "data": [1]}]})
    seeds = []
    for read in (0, 1, 7):
        seeds += [
            item(read, "GET /v2/health/ready HTTP/1.1\r\nHost: x\r\n\r\n"),
            item(read, "POST /v2/models/mlp/infer HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                       "Content-Length: %d\r\n\r\n%s" % (len(body), body)),
        ]
    seeds += [
        item(0, "GET /v2/models/m%2Fx/versions/1/ready?x=1&y=%zz HTTP/1.1\r\n\r\n"),
        item(0, "GET /v2/models/%e2%82%ac HTTP/1.1\r\n\r\n"),
        item(0, "GET /v2/models/%2 HTTP/1.1\r\n\r\n"),
        item(0, "GET http://host:8000/v2/models/mlp?q HTTP/1.1\r\n\r\n"),
        item(0, "GET http://host HTTP/1.1\r\n\r\n"),
        item(0, "GET ?only HTTP/1.1\r\n\r\n"),
        item(0, "OPTIONS * HTTP/1.1\r\n\r\n"),
        item(0, "CONNECT host:443 HTTP/1.1\r\n\r\n"),
        item(0, "GET //v2//models/ HTTP/1.0\r\n\r\n"),
        item(0, "DELETE /v2/models/mlp/infer HTTP/1.1\r\n\r\n"),
        item(0, "POST /predict HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                "5;ext=1\r\n{\"dat\r\n7\r\na\":[1]}\r\n0\r\nTrailer: x\r\n\r\n"),
        item(3, "POST /predict/mlp HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffff\r\nx"),
        item(0, "POST /predict HTTP/1.1\r\nContent-Length: 67108865\r\n\r\n"),
        item(0, "POST /predict HTTP/1.1\r\nContent-Length: 18446744073709551616\r\n\r\n"),
        item(0, "POST /predict HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd"),
        item(0, "POST /predict HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
        item(0, "POST /v2/models/m/infer HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n"
                "Inference-Header-Content-Length: 2\r\n\r\n{}"),
        item(0, "POST /v2/models/m/infer HTTP/1.1\r\nInference-Header-Content-Length: -1\r\n"
                "inference-header-content-length: 99999999999999999999\r\nContent-Length: 0\r\n\r\n"),
        item(0, "GET /v2 HTTP/1.1\r\nX-Long: " + "a" * 70000 + "\r\n\r\n"),
        item(0, "GET /v2 HTTP/1.1\r\nFolded: a\r\n b\r\n\r\n"),
        item(0, "GET /v2 HTTP/1.1\r\nBad Header: a\r\n\r\n"),
        item(0, "GET /v2 HTTP/1.1\r\nX: \x00\x7f\xff\r\n\r\n"),
        item(0, "GET /v2 HTTP/1.1\nHost: lf-only\n\n"),
        item(0, "GET /v2 HTTP/2.0\r\n\r\n"),
        item(0, "GET /v2 HTTP/1.1\r\nConnection: close\r\n\r\nGET /v2 HTTP/1.1\r\n\r\n"),
        item(2, ("GET /v2/health/live HTTP/1.1\r\n\r\n" * 5)
             + "POST /predict HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello"),
        item(0, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"),
        item(0, "\r\n\r\nGET /v2 HTTP/1.1\r\n\r\n"),
        item(0, "get /v2 HTTP/1.1\r\n\r\n"),
        item(0, "G\x00T /v2 HTTP/1.1\r\n\r\n"),
        item(0, ""),
    ]
    return seeds


def main():
    write("kserve_json_fuzzer", kserve_json())
    write("kserve_binary_fuzzer", kserve_binary())
    write("predict_fuzzer", predict())
    write("config_fuzzer", config())
    write("http_request_fuzzer", http())


if __name__ == "__main__":
    sys.exit(main())
