"""autograd.core: its primitive-definition API is not microgradnp's (microgradnp.func.custom_vjp is)."""


def _unclaimed(*args, **kwargs):
    raise NotImplementedError("autograd.core's API is not part of microgradnp; see microgradnp.func.custom_vjp")


primitive = defvjp = defjvp = make_vjp = make_jvp = _unclaimed
