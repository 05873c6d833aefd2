"""Writing a small CSV with some columns changed or dropped, for the readers' bad-input tests."""


def write_with_changes(frame, path, changes):
    """`frame` with each column in `changes` replaced by its values (dropped when None), as CSV at `path`."""
    for column, values in changes.items():
        if values is None:
            frame = frame.drop(columns=column)
        else:
            frame[column] = values
    frame.to_csv(path, index=False)
    return path
