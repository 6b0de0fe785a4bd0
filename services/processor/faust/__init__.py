"""The processor's Faust wing: the app, its agents and timers, and the wiring of the drivers.

Everything that knows Faust is here. The drivers (`site_driver`, `cross_driver`) and the pure
stages call the domain (`shared.domain.publication`) and know nothing of Faust.
"""
