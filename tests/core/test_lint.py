import pytest

from labmate_core.lint import (
    LintResult,
    check_duplicate_save_fig,
    defined_names,
    find_external_variables,
    lint_code,
)


def ext(code, allowed=(), init_code=None):
    return find_external_variables(code, allowed, init_code)


def test_names_defined_in_the_cell_and_builtins_are_fine():
    code = "x = np.arange(3)\ny = len(x)\nprint(y, display, get_ipython)\n"
    assert ext(code) == ["np"]
    assert ext(code, {"np"}) == []


def test_order_of_first_use_and_use_before_assignment():
    assert ext("print(b)\nprint(a)\nb = 1\nprint(b)") == ["b", "a"]


def test_self_referencing_assignments_are_external():
    assert ext("x = x + 1") == ["x"]
    assert ext("y += 1") == ["y"]
    assert ext("y = 0\ny += 1") == []


def test_init_code_names_are_allowed():
    init = (
        "import numpy as np\nimport matplotlib.pyplot as plt\nfrom scipy import optimize as opt\n"
    )
    assert ext("plt.plot(np.sin(t)); opt.curve_fit", init_code=init) == ["t"]
    assert defined_names(init) == {"np", "plt", "opt"}


def test_functions_see_the_whole_module_and_their_own_names():
    code = (
        "def f(a, /, b=default, *args, c, d=2, **kw):\n"
        "    local = a + b + c + d + len(args) + len(kw)\n"
        "    return local + later + missing\n"
        "later = 1\n"
        "@decorator\n"
        "async def g():\n"
        "    return f(1, c=2)\n"
    )
    assert ext(code) == ["default", "missing", "decorator"]


def test_comprehensions_lambdas_classes_and_imports():
    code = (
        "ys = [i * k for i in data if i > threshold]\n"
        "d = {key: v for key, v in pairs}\n"
        "g = lambda t, s=scale: t * s * gain\n"
        "class Model(Base):\n"
        "    attr = 1\n"
        "    def method(self):\n"
        "        return Model, attr_outside\n"
        "m = Model()\n"
        "import os.path\n"
        "os.getcwd()\n"
        "from math import *\n"
    )
    assert ext(code) == ["data", "threshold", "k", "pairs", "scale", "gain", "Base", "attr_outside"]


def test_other_binding_forms():
    code = (
        "try:\n    pass\nexcept ValueError as err:\n    print(err)\n"
        "with open('f') as fh:\n    fh.read()\n"
        "if (n := 3) > 2:\n    print(n)\n"
        "for a, (b, c) in items:\n    print(a, b, c)\n"
        "match n:\n    case [first, *rest]:\n        print(first, rest)\n"
        "    case {'k': val, **others}:\n        print(val, others)\n"
        "    case Point(x=px) as pt:\n        print(px, pt)\n"
        "del a\n"
    )
    assert ext(code) == ["items", "Point"]


def test_save_acquisition_arguments_are_not_checked():
    assert ext("aqm.save_acquisition(x=x, y=unknown)", {"aqm"}) == []


def test_noqa_lines_are_not_reported():
    assert ext("a = x  # noqa\nb = y\nc = x") == ["y", "x"]
    assert ext("a = x  # noqa\nb = y  # NOQA: F821") == []
    assert ext("a = f(\n    x,  # noqa\n)\n") == ["f"]


def test_what_a_noqa_line_defines_is_not_defined_after_it():
    code = "if acquiring:\n    x = fetch()  # noqa\n    save(x=x)\nplot(x)\n"
    assert ext(code, {"acquiring", "save", "plot"}) == ["x"]  # as labmate
    assert ext("for i in range(3):  # noqa\n    print(i)\n") == []  # a block header: kept


def test_a_name_given_by_position_or_keyword_is_the_same_figure():
    code = "aqm.save_fig('a')\naqm.save_fig(name='a')\naqm.save_fig(fig, name='a')\n"
    errors = lint_code(code, {"aqm", "fig"}).errors
    assert errors == ["line 2: save_fig with the same arguments is used more than once."]


def test_duplicate_save_fig_is_an_error():
    code = (
        "aqm.save_fig()\naqm.save_fig(name='a')\naqm.save_fig(fig1)\n"
        "aqm.save_fig(fig2)\naqm.save_fig(name='a')\naqm.save_fig()  # noqa\naqm.save_fig()\n"
    )
    result = lint_code(code, {"aqm", "fig1", "fig2"})
    assert result.errors == [
        "line 5: save_fig with the same arguments is used more than once.",
        "line 7: save_fig with the same arguments is used more than once.",
    ]
    assert lint_code(code, {"aqm", "fig1", "fig2"}, on_call=None).errors == []


def test_custom_call_check():
    def no_print(node, db):
        db["n"] = db.get("n", 0) + 1
        return ["print!"] if getattr(node.func, "id", None) == "print" else []

    assert lint_code("print(1)\nlen([])", on_call=no_print).errors == ["print!"]
    assert check_duplicate_save_fig.__name__ == "check_duplicate_save_fig"


def test_lint_result_fields():
    result = lint_code("a = 1\nb = a + c\nimport os", {"allowed"})
    assert isinstance(result, LintResult)
    assert result.internal_vars == {"a", "b", "os"}
    assert result.external_vars == ["c"]
    assert result[0] == result.internal_vars


def test_syntax_error_is_reported_not_raised():
    result = lint_code("x = (")
    assert result.external_vars == [] and "Syntax error" in result.errors[0]


def test_bad_input():
    with pytest.raises(TypeError, match="str"):
        lint_code(b"x = 1")
    with pytest.raises(TypeError, match="single str"):
        lint_code("x = 1", "aqm")
    with pytest.raises(ValueError, match="Cannot read the names"):
        find_external_variables("x = 1", init_code="import (")
