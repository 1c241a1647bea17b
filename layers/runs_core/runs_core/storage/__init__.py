"""Storage adapters: the only code that touches boto3. Logic talks to these small classes."""
