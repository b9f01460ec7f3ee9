"""Operations: run metrics and pipeline health in the ops index."""
