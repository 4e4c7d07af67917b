"""What proposes configs: the Controller protocol and factory, the MNMS agent (networks,
losses, replay), random search and the peers.
"""
